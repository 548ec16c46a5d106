import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {SystemManager} from '../../../src/system/manager.js'
import {ctx, def, demoHost, reg} from './demo.js'
import {FakeSystemdHost} from '../../fakes/fake-systemd-host.js'

const CURRENT = '/var/lib/osctl/system/demo/current'
const UNIT = '/etc/systemd/system/osctl-demo.service'
/** Each revision N runs image tag N with env A=N, so a restored config.json shows which revision wrote it. */
const defN = (n: number) => ({...def, env: () => [`A=${n}`]})

/** Installs revision 1 and upgrades through `upTo`; slots then hold upTo (current) and upTo-1. */
async function upgraded(upTo: number): Promise<{h: FakeSystemdHost; m: SystemManager}> {
  const h = demoHost()
  const m = new SystemManager(h)
  await m.apply(defN(1), ctx, reg('1'))
  for (let i = 2; i <= upTo; i++) await m.apply(defN(i), ctx, reg(String(i)), 'upgrade')
  return {h, m}
}

const refusal = async (p: Promise<unknown>) => (await p.then(() => undefined, (e: unknown) => e)) as OsctlError
const bundleConfig = (h: FakeSystemdHost, slot: number) => JSON.parse(h.text(`/var/lib/osctl/system/demo/slot-${slot}/bundle/config.json`)!)

describe('system rollback --to', () => {
  it('returns to the revision in the other slot with a flip, nothing unpacked', async () => {
    const {h, m} = await upgraded(3)
    expect(h.links.get(CURRENT)).toBe('slot-0')
    const unpacked = h.unpacked.length
    expect(await m.rollback(defN(3), ctx, {to: 2})).toMatchObject({revision: 2, slot: 1, image: 'r:4000/osctl/demo:2'})
    expect(h.links.get(CURRENT)).toBe('slot-1')
    expect(h.unpacked.length).toBe(unpacked)
    expect(h.text(UNIT)).toBe(h.text('/var/lib/osctl/system/demo/slot-1/unit'))
  })

  it('unpacks an older revision from the OCI store into the free slot, with the config.json and unit it ran with', async () => {
    const {h, m} = await upgraded(3)
    // Revision 1 ran from slot 0; slot 0 now holds revision 3 (current), so it comes back in slot 1.
    expect(await m.rollback(defN(3), ctx, {to: 1})).toMatchObject({revision: 1, slot: 1, image: 'r:4000/osctl/demo:1'})
    expect(h.unpacked.at(-1)).toBe('demo-r1')
    expect(h.links.get(CURRENT)).toBe('slot-1')
    const cfg = bundleConfig(h, 1)
    expect(cfg.digest).toBe('sha256:one')
    expect(cfg.process.env).toContain('A=1')
    expect(cfg.annotations['io.osctl.revision']).toBe('1')
    const unit = h.text(UNIT)!
    expect(unit).toMatch(/^# osctl-managed: system\/demo revision=1 slot=1$/m)
    expect(unit).toContain('--bundle /var/lib/osctl/system/demo/slot-1/bundle ')
    expect(unit).not.toContain('slot-0')
    expect(JSON.parse(h.text('/var/lib/osctl/system/demo/slot-1/info.json')!)).toMatchObject({revision: 1, slot: 1, imageId: 'sha256:one'})
    expect(h.restarts.at(-1)).toBe('osctl-demo.service')
    const st = await m.state('demo')
    expect(st.history.at(-1)).toMatchObject({revision: 1, slot: 1, action: 'rollback', outcome: 'active'})
    expect(st.history.filter((e) => e.outcome === 'active')).toHaveLength(1)
    // Revision 2 left its slot but not the host: its record and image remain, so it is still reachable.
    expect(h.store.has('demo-r2')).toBe(true)
    // The free slot is now 0 (it held 3, which stays reachable the same way).
    expect(await m.rollback(defN(3), ctx, {to: 2})).toMatchObject({revision: 2, slot: 0})
    expect(bundleConfig(h, 0).process.env).toContain('A=2')
    expect(await m.rollback(defN(3), ctx, {to: 3})).toMatchObject({revision: 3, slot: 1})
    expect(bundleConfig(h, 1).process.env).toContain('A=3')
  })

  it('without --to returns to the revision that ran before, so two rollbacks undo each other', async () => {
    const {h, m} = await upgraded(3)
    await m.rollback(defN(3), ctx, {to: 1})
    expect(await m.rollback(defN(3), ctx)).toMatchObject({revision: 3, slot: 0})
    expect(await m.rollback(defN(3), ctx)).toMatchObject({revision: 1, slot: 1})
    expect(h.links.get(CURRENT)).toBe('slot-1')
  })

  it('after an automatic rollback, the default skips the failed revision and unpacks the one before', async () => {
    const {h, m} = await upgraded(2)
    await expect(m.apply(defN(2), ctx, reg('bad'), 'upgrade')).rejects.toMatchObject({code: 'ROLLED_BACK'})
    // Slots: 2 (current, slot 1) and the failed 3 (slot 0). Revision 1 comes back from the store.
    expect(await m.rollback(defN(2), ctx)).toMatchObject({revision: 1, slot: 0})
    expect(h.unpacked.at(-1)).toBe('demo-r1')
    expect(bundleConfig(h, 0).digest).toBe('sha256:one')
  })

  it('refuses an unknown revision, the current one, and one whose image was pruned; nothing changes', async () => {
    const {h, m} = await upgraded(5)
    expect(h.store.has('demo-r1')).toBe(false)
    const ops = h.ops.length
    const restarts = h.restarts.length

    const unknown = await refusal(m.rollback(defN(5), ctx, {to: 9}))
    expect(unknown).toMatchObject({code: 'USAGE', exitCode: 2, location: '--to', message: 'h1: demo has no revision 9 (revisions: 1, 2, 3, 4, 5)'})
    expect(unknown.hint).toContain('osctl system history demo')

    const current = await refusal(m.rollback(defN(5), ctx, {to: 5}))
    expect(current).toMatchObject({code: 'USAGE', location: '--to', message: 'h1: demo already runs revision 5'})

    const pruned = await refusal(m.rollback(defN(5), ctx, {to: 1}))
    expect(pruned).toMatchObject({code: 'USAGE', location: '--to', message: 'h1: demo revision 1 is no longer kept: its image was pruned from the OCI store'})
    expect(pruned.hint).toMatch(/the 3 that ran before it and both slots/)
    // --force is about failed revisions; it cannot bring back a pruned image.
    await expect(m.rollback(defN(5), ctx, {to: 1, force: true})).rejects.toMatchObject({code: 'USAGE', location: '--to'})

    expect(h.ops.length).toBe(ops)
    expect(h.restarts.length).toBe(restarts)
    expect(h.links.get(CURRENT)).toBe('slot-0')
  })

  it('refuses a revision that failed its health check unless forced; forced and unhealthy, it puts the running one back', async () => {
    const {h, m} = await upgraded(2)
    await m.apply(defN(2), ctx, reg('bad'), 'upgrade').catch(() => {})
    const refused = await refusal(m.rollback(defN(2), ctx, {to: 3}))
    expect(refused).toMatchObject({code: 'USAGE', location: '--to'})
    expect(refused.message).toMatch(/^h1: demo revision 3 failed its health check and was rolled back \(/)
    expect(refused.hint).toMatch(/--force/)

    const unitBefore = h.text(UNIT)
    const forced = await refusal(m.rollback(defN(2), ctx, {to: 3, force: true}))
    expect(forced).toMatchObject({code: 'ROLLED_BACK', exitCode: 4})
    expect(forced.message).toMatch(/revision 3 .* did not become healthy .*; revision 2 \(r:4000\/osctl\/demo:2\) runs again/)
    expect(h.links.get(CURRENT)).toBe('slot-1')
    expect(h.text(UNIT)).toBe(unitBefore)
    expect(h.healthy()).toBe(true)
    const history = (await m.state('demo')).history
    expect(history.slice(-2).map((e) => [e.revision, e.action, e.outcome])).toEqual([[3, 'upgrade', 'rolled-back'], [3, 'rollback', 'rolled-back']])
    expect(history.filter((e) => e.outcome === 'active').map((e) => e.revision)).toEqual([2])
  })

  it('a revision unpacked from the store that fails its health gate is undone, and nothing is lost', async () => {
    const {h, m} = await upgraded(3)
    h.broken.add('sha256:one') // say its image no longer works with the host as it is now
    const unitBefore = h.text(UNIT)
    const err = await refusal(m.rollback(defN(3), ctx, {to: 1}))
    expect(err).toMatchObject({code: 'ROLLED_BACK', exitCode: 4})
    expect(err.message).toMatch(/revision 1 .* did not become healthy .*; revision 3 .* runs again/)
    expect(h.links.get(CURRENT)).toBe('slot-0')
    expect(h.text(UNIT)).toBe(unitBefore)
    expect(h.healthy()).toBe(true)
    const st = await m.state('demo')
    expect(st.current).toMatchObject({revision: 3})
    expect(st.history.at(-1)).toMatchObject({revision: 1, action: 'rollback', outcome: 'rolled-back'})
    expect(st.history.filter((e) => e.outcome === 'active').map((e) => e.revision)).toEqual([3])
    // Revision 2, whose slot the attempt reused, is still reachable; and 1 with --force.
    expect(await m.rollback(defN(3), ctx, {to: 2})).toMatchObject({revision: 2, slot: 1})
    expect(bundleConfig(h, 1).digest).toBe('sha256:two')
    await expect(m.rollback(defN(3), ctx, {to: 1})).rejects.toMatchObject({code: 'USAGE', message: expect.stringMatching(/failed its health check/)})
  })

  it('records a slot revision installed before records existed before reusing its slot', async () => {
    const {h, m} = await upgraded(2)
    // As an older osctl left it: slots and history, no revisions/ records.
    for (const k of [...h.files.keys()]) if (k.includes('/revisions/')) h.files.delete(k)
    await m.apply(defN(3), ctx, reg('3'), 'upgrade')
    expect(h.text('/var/lib/osctl/system/demo/revisions/1/info.json')).toBeDefined()
    expect(await m.rollback(defN(3), ctx, {to: 1})).toMatchObject({revision: 1, slot: 1})
    expect(bundleConfig(h, 1).process.env).toContain('A=1')
  })
})
