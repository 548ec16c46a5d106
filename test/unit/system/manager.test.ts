import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {SystemManager} from '../../../src/system/manager.js'
import {ctx, def, demoHost, reg} from './demo.js'

const host = demoHost

describe('SystemManager (two slots)', () => {
  it('installs into slot 0, then upgrades into slot 1 keeping slot 0 for rollback', async () => {
    const h = host()
    const m = new SystemManager(h)
    expect(await m.apply(def, ctx, reg('1'))).toMatchObject({status: 'installed', revision: 1, slot: 0})
    expect(h.links.get('/var/lib/osctl/system/demo/current')).toBe('slot-0')
    expect(h.text('/etc/systemd/system/osctl-demo.service')).toContain('--bundle /var/lib/osctl/system/demo/slot-0/bundle')
    expect(await m.apply(def, ctx, reg('2'), 'upgrade')).toMatchObject({status: 'upgraded', revision: 2, slot: 1})
    expect(h.links.get('/var/lib/osctl/system/demo/current')).toBe('slot-1')
    const st = await m.state('demo')
    expect(st.previous).toMatchObject({revision: 1, imageId: 'sha256:one'})
  })

  it('changes nothing when image, spec and unit are the same', async () => {
    const h = host()
    const m = new SystemManager(h)
    await m.apply(def, ctx, reg('1'))
    const restarts = h.restarts.length
    expect(await m.apply(def, ctx, reg('1'))).toMatchObject({status: 'unchanged', revision: 1})
    expect(h.restarts.length).toBe(restarts)
    expect(h.ran(/^skopeo copy/)).toBe(true)
    expect(h.commands.filter((c) => c.startsWith('skopeo copy'))).toHaveLength(1)
  })

  it('a running container that is not healthy yet gets a few seconds to settle before it is restarted', async () => {
    const h = host()
    const m = new SystemManager(h)
    await m.apply(def, ctx, reg('1'))
    const restarts = h.restarts.length
    h.settling = 1
    expect(await m.apply(def, ctx, reg('1'))).toMatchObject({status: 'unchanged', revision: 1})
    expect(h.restarts.length).toBe(restarts)
    // Never healthy while running: restarted (and gated) once the settling time is up.
    h.settling = 1000
    await expect(m.apply(def, ctx, reg('1'))).rejects.toThrow(/not healthy/)
    expect(h.restarts.length).toBe(restarts + 1)
  })

  it('a new tag is a new revision even when it names the same content (as for service containers)', async () => {
    const h = host()
    h.registry.set('r:4000/osctl/demo:same', 'sha256:one')
    const m = new SystemManager(h)
    await m.apply(def, ctx, reg('1'))
    expect(await m.apply(def, ctx, reg('same'), 'upgrade')).toMatchObject({status: 'upgraded', revision: 2, image: 'r:4000/osctl/demo:same'})
    expect(await m.apply(def, ctx, reg('same'))).toMatchObject({status: 'unchanged', revision: 2})
  })

  it('a spec change (env) is a new revision even with the same image', async () => {
    const h = host()
    const m = new SystemManager(h)
    await m.apply(def, ctx, reg('1'))
    const changed = {...def, env: () => ['A=2']}
    expect(await m.apply(changed, ctx, reg('1'))).toMatchObject({status: 'upgraded', revision: 2})
  })

  it('rolls back automatically when the new revision is not healthy, and says why', async () => {
    const h = host()
    const m = new SystemManager(h)
    await m.apply(def, ctx, reg('1'))
    const unitBefore = h.text('/etc/systemd/system/osctl-demo.service')
    const err = await m.apply(def, ctx, reg('bad'), 'upgrade').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OsctlError)
    expect((err as OsctlError).exitCode).toBe(4)
    expect((err as OsctlError).message).toMatch(/revision 2 .* did not become healthy .*rolled back to revision 1/)
    expect(h.links.get('/var/lib/osctl/system/demo/current')).toBe('slot-0')
    expect(h.text('/etc/systemd/system/osctl-demo.service')).toBe(unitBefore)
    const history = (await m.state('demo')).history
    expect(history.map((e) => [e.revision, e.outcome])).toEqual([[1, 'active'], [2, 'rolled-back']])
  })

  it('rollback returns to the other slot; a failed revision is never the default and needs --to and --force', async () => {
    const h = host()
    const m = new SystemManager(h)
    await m.apply(def, ctx, reg('1'))
    await m.apply(def, ctx, reg('2'), 'upgrade')
    expect(await m.rollback(def, ctx)).toMatchObject({revision: 1, slot: 0})
    expect(h.links.get('/var/lib/osctl/system/demo/current')).toBe('slot-0')
    expect(h.unpacked).toEqual(['demo-r1', 'demo-r2'])

    const h2 = host()
    const m2 = new SystemManager(h2)
    await m2.apply(def, ctx, reg('1'))
    await m2.apply(def, ctx, reg('bad'), 'upgrade').catch(() => {})
    const err = (await m2.rollback(def, ctx).catch((e: unknown) => e)) as OsctlError
    expect(err).toMatchObject({code: 'USAGE', exitCode: 2})
    expect(err.message).toBe('h1: demo has no earlier revision to roll back to (revision 1 is the first that served)')
    expect(err.hint).toContain('Revision 2 in the other slot failed its health check; `osctl system rollback demo --to 2 --force`')
    await expect(m2.rollback(def, ctx, {to: 2})).rejects.toMatchObject({code: 'USAGE', location: '--to', message: expect.stringMatching(/revision 2 failed its health check/)})
    expect(h2.links.get('/var/lib/osctl/system/demo/current')).toBe('slot-0')
  })

  it('a tag missing from the registry fails before anything is written', async () => {
    const h = host()
    const m = new SystemManager(h)
    await expect(m.apply(def, ctx, reg('nope'))).rejects.toMatchObject({code: 'IMAGE_UNKNOWN', exitCode: 2})
    expect(h.ops).toEqual([])
    expect(h.links.size).toBe(0)
  })
})
