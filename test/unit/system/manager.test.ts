import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {SystemContainerDef, SystemContext} from '../../../src/system/definitions.js'
import {SystemManager} from '../../../src/system/manager.js'
import {FakeSystemdHost} from './fake-systemd-host.js'

const def: SystemContainerDef = {
  name: 'demo',
  image: 'demo',
  group: 'control',
  description: 'demo',
  ports: [1],
  args: () => ['/bin/demo'],
  env: () => ['A=1'],
  mounts: () => [{source: '/var/lib/osctl/data/demo', destination: '/data'}],
  health: () => ({url: 'http://127.0.0.1:1/health'}),
  healthTimeoutSeconds: 0.3,
}
const ctx: SystemContext = {host: 'h1', address: '192.0.2.10', peers: [], passwords: {}, registryPort: 4000}
const reg = (tag: string) => ({kind: 'registry' as const, ref: `r:4000/osctl/demo:${tag}`})

function host(): FakeSystemdHost {
  const h = new FakeSystemdHost()
  h.registry.set('r:4000/osctl/demo:1', 'sha256:one').set('r:4000/osctl/demo:2', 'sha256:two').set('r:4000/osctl/demo:bad', 'sha256:bad')
  h.broken.add('sha256:bad')
  return h
}

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

  it('rollback returns to the other slot, and refuses a revision that failed unless forced', async () => {
    const h = host()
    const m = new SystemManager(h)
    await m.apply(def, ctx, reg('1'))
    await m.apply(def, ctx, reg('2'), 'upgrade')
    expect(await m.rollback(def, ctx)).toMatchObject({revision: 1, slot: 0})
    expect(h.links.get('/var/lib/osctl/system/demo/current')).toBe('slot-0')

    const h2 = host()
    const m2 = new SystemManager(h2)
    await m2.apply(def, ctx, reg('1'))
    await m2.apply(def, ctx, reg('bad'), 'upgrade').catch(() => {})
    await expect(m2.rollback(def, ctx)).rejects.toThrow(/failed its health check/)
  })

  it('a tag missing from the registry fails before anything is written', async () => {
    const h = host()
    const m = new SystemManager(h)
    await expect(m.apply(def, ctx, reg('nope'))).rejects.toMatchObject({code: 'IMAGE_UNKNOWN', exitCode: 2})
    expect(h.ops).toEqual([])
    expect(h.links.size).toBe(0)
  })
})
