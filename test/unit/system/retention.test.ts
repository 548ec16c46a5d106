import {RecordingReporter} from '../../../src/events/reporters.js'
import {describe, expect, it} from 'vitest'

import {HistoryEntry, SlotInfo} from '../../../src/system/layout.js'
import {SystemManager} from '../../../src/system/manager.js'
import {SYSTEM_KEEP_REVISIONS, revisionsToKeep} from '../../../src/system/revisions.js'
import {ctx, def, demoHost, reg} from './demo.js'
import {FakeSystemdHost} from '../../fakes/fake-systemd-host.js'

const demoTags = (h: FakeSystemdHost) => [...h.store.keys()].filter((t) => t.startsWith('demo-')).sort()
const records = (h: FakeSystemdHost) =>
  [...h.files.keys()].map((k) => /^\/var\/lib\/osctl\/system\/demo\/revisions\/(\d+)\/info\.json$/.exec(k)?.[1]).filter(Boolean).map(Number).sort((a, b) => a - b)
const defN = (n: number) => ({...def, env: () => [`A=${n}`]})

async function upgradeThrough(_h: FakeSystemdHost, m: SystemManager, tags: string[]): Promise<void> {
  for (const [i, tag] of tags.entries()) await m.apply(defN(i + 1), ctx, reg(tag), i === 0 ? 'install' : 'upgrade').catch(() => {})
}

describe('revision retention (OCI store images and records)', () => {
  it('keeps the current revision and the 3 before it, and says so in one constant', async () => {
    expect(SYSTEM_KEEP_REVISIONS).toBe(3)
    const h = demoHost()
    h.store.set('other-r1', 'sha256:other') // another system container's image in the shared store
    const m = new SystemManager(h)
    await upgradeThrough(h, m, ['1', '2', '3', '4'])
    expect(demoTags(h)).toEqual(['demo-r1', 'demo-r2', 'demo-r3', 'demo-r4'])
    expect(h.gcRuns).toBe(0)
    await m.apply(defN(5), ctx, reg('5'), 'upgrade')
    expect(demoTags(h)).toEqual(['demo-r2', 'demo-r3', 'demo-r4', 'demo-r5'])
    expect(records(h)).toEqual([2, 3, 4, 5])
    expect(h.commands).toContain('umoci rm --image /var/lib/osctl/oci:demo-r1')
    expect(h.gcRuns).toBe(1)
    await m.apply(defN(6), ctx, reg('6'), 'upgrade')
    expect(demoTags(h)).toEqual(['demo-r3', 'demo-r4', 'demo-r5', 'demo-r6'])
    expect(records(h)).toEqual([3, 4, 5, 6])
    expect(h.store.get('other-r1')).toBe('sha256:other')
    expect(h.gcRuns).toBe(2)
  })

  it('counts a revision returned to by a rollback as recent, and never drops what a slot holds', async () => {
    const h = demoHost()
    const m = new SystemManager(h)
    await upgradeThrough(h, m, ['1', '2', '3', '4'])
    await m.rollback(defN(4), ctx, {to: 1})
    await m.apply(defN(5), ctx, reg('5'), 'upgrade')
    await m.apply(defN(6), ctx, reg('6'), 'upgrade')
    // Ran most recently: 6, 5, 1 (the rollback), 4. Slots hold 5 and 6.
    expect(demoTags(h)).toEqual(['demo-r1', 'demo-r4', 'demo-r5', 'demo-r6'])
    expect(records(h)).toEqual([1, 4, 5, 6])
    expect((await m.rollback(defN(6), ctx, {to: 1})).revision).toBe(1)
  })

  it('a failed revision takes no place among the kept ones, but stays while a slot holds it', async () => {
    const h = demoHost()
    const m = new SystemManager(h)
    await upgradeThrough(h, m, ['1', '2', '3', 'bad'])
    // 4 failed and was rolled back; nothing was pruned (retention follows healthy revisions only).
    expect(demoTags(h)).toEqual(['demo-r1', 'demo-r2', 'demo-r3', 'demo-r4'])
    await m.apply(defN(5), ctx, reg('5'), 'upgrade')
    // 5 went into the failed revision's slot; 3, 2 and 1 ran before it.
    expect(demoTags(h)).toEqual(['demo-r1', 'demo-r2', 'demo-r3', 'demo-r5'])
    expect(records(h)).toEqual([1, 2, 3, 5])
  })

  it('revisionsToKeep: the slots are kept whatever their age', () => {
    const slot = (revision: number, s: number): SlotInfo => ({name: 'demo', revision, slot: s, image: `i:${revision}`, imageId: `sha256:${revision}`, specHash: '', installedAt: ''})
    const entry = (revision: number, outcome: HistoryEntry['outcome']): HistoryEntry => ({revision, slot: 0, image: '', imageId: '', at: '', action: 'upgrade', outcome})
    const history = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => entry(n, 'superseded'))
    history.push(entry(9, 'failed'), entry(10, 'active'))
    const keep = revisionsToKeep({current: slot(10, 0), previous: slot(2, 1), history})
    expect([...keep].sort((a, b) => a - b)).toEqual([2, 6, 7, 8, 10])
    expect([...revisionsToKeep({current: slot(10, 0), previous: slot(9, 1), history}, 1)].sort((a, b) => a - b)).toEqual([8, 9, 10])
  })

  it('a failing prune does not fail the upgrade; it is reported and retried by the next one', async () => {
    const h = demoHost()
    const m = new SystemManager(h)
    await upgradeThrough(h, m, ['1', '2', '3', '4'])
    h.on(/^umoci gc /, () => ({exitCode: 1, stderr: 'gc: device busy'}))
    const events = new RecordingReporter()
    const m2 = new SystemManager(h, events)
    expect(await m2.apply(defN(5), ctx, reg('5'), 'upgrade')).toMatchObject({status: 'upgraded', revision: 5})
    expect(events.of('system.prune.failed').map((e) => [e.level, e.data.name, e.data.error])).toEqual([['warn', 'demo', expect.stringContaining('gc: device busy')]])
    expect(demoTags(h)).toEqual(['demo-r2', 'demo-r3', 'demo-r4', 'demo-r5'])
    h.on(/^umoci gc /, () => {
      h.gcRuns++
    })
    await m2.apply(defN(6), ctx, reg('6'), 'upgrade')
    expect(demoTags(h)).toEqual(['demo-r3', 'demo-r4', 'demo-r5', 'demo-r6'])
    expect(h.gcRuns).toBe(1)
  })

  it('system remove takes its images out of the shared store and leaves the others', async () => {
    const h = demoHost()
    h.store.set('other-r1', 'sha256:other')
    const m = new SystemManager(h)
    await upgradeThrough(h, m, ['1', '2'])
    await m.remove('demo')
    expect([...h.store.keys()]).toEqual(['other-r1'])
    expect(h.gcRuns).toBe(1)
  })
})
