import {spawnSync} from 'node:child_process'
import {hostname} from 'node:os'
import {beforeEach, describe, expect, it} from 'vitest'

import {Journal, JournalEntry, journalFile, journalState} from '../../../src/revisions/journal.js'
import {Ledger} from '../../../src/revisions/ledger.js'
import {rollbackService} from '../../../src/lifecycle/service-rollback.js'
import {upgradeService} from '../../../src/lifecycle/service-upgrade.js'
import {OsctlError} from '../../../src/errors.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import type {Site} from '../../../src/site/types.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'
import {FakeHost} from '../../fakes/fake-host.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
const noRegistryCheck = async () => {}
const KEYSTONE_JOURNAL = journalFile('keystone')

/** The pid of a process that has exited: what a journal entry of a killed osctl holds. */
const deadPid = () => spawnSync('true').pid!

const entry = (over: Partial<JournalEntry>): JournalEntry => ({
  format: 1,
  op: 'upgrade',
  service: 'keystone',
  host: 'lab-1',
  operation: 'upgrade-test',
  revision: 2,
  current: 1,
  machine: hostname(),
  pid: process.pid,
  user: 'root',
  startedAt: new Date().toISOString(),
  ...over,
})

describe('journal state', () => {
  it('tells this process, a live one, a dead one and another machine apart', () => {
    expect(journalState(entry({}))).toBe('mine')
    expect(journalState(entry({pid: process.ppid}))).toBe('running')
    expect(journalState(entry({pid: deadPid()}))).toBe('interrupted')
    const now = Date.parse('2026-01-01T12:00:00Z')
    expect(journalState(entry({machine: 'elsewhere', startedAt: '2026-01-01T11:30:00Z'}), now)).toBe('running')
    expect(journalState(entry({machine: 'elsewhere', startedAt: '2026-01-01T10:00:00Z'}), now)).toBe('interrupted')
  })
})

describe('journal begin', () => {
  it('is a lock: of two begins at once on one host, one holds the service and the other refuses naming it', async () => {
    const h = new FakeHost('lab-1').on(/^install -d /, () => '')
    const op = {op: 'deploy' as const, service: 'keystone', operation: 'op-1', revision: 2}
    const [a, b] = await Promise.allSettled([new Journal(h).begin(op), new Journal(h).begin({...op, operation: 'op-2'})])
    expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected'])
    const lost = (a.status === 'rejected' ? a : b) as PromiseRejectedResult
    expect(lost.reason).toBeInstanceOf(OsctlError)
    expect(String(lost.reason.message)).toMatch(/keystone is being changed by another osctl/)
    const won = (a.status === 'fulfilled' ? a : b) as PromiseFulfilledResult<JournalEntry>
    expect(JSON.parse(h.text(journalFile('keystone'))!).operation).toBe(won.value.operation)
    expect(h.files.get(journalFile('keystone'))!.mode).toBe(0o600)
  })
})

describe('crash safety: an upgrade killed in the middle (FakeHost + FakeEngine)', () => {
  let site: Site
  let lab: ReturnType<typeof fakeLab>
  /** Journal files present on lab-1 whenever the host-side swap ran. */
  let journalAtSwap: boolean[]
  const ctx = () => lab.ctx()
  const lab1 = () => lab.hosts.get('lab-1')!
  const keystone = () => lab.engines.get('lab-1')!.containers.get('keystone')!

  beforeEach(async () => {
    site = testSite()
    lab = fakeLab(site, [...registryRefs(SERVICES, ['zed']), ...registryRefs(['keystone'], ['2'])], () => '-- dump before the upgrade\n')
    journalAtSwap = []
    await lab.deploy(SERVICES)
  })

  /**
   * Runs `service upgrade keystone --tag 2` until the host-side swap of keystone has happened, then
   * the osctl process "dies": the host never answers it again, and its journal entry now names a
   * pid that is gone. The host is left exactly as the real code left it.
   */
  async function killDuringUpgrade(): Promise<void> {
    const h = lab1()
    let swapped!: () => void
    const atSwap = new Promise<void>((resolve) => (swapped = resolve))
    h.on(/^systemd-run .*keystone/, async (c) => {
      journalAtSwap.push(h.files.has(KEYSTONE_JOURNAL))
      await h.swap(c)
      swapped()
      return new Promise(() => {}) // osctl is gone: the reply never arrives
    })
    void upgradeService(await ctx(), (await ctx()).catalog.get('keystone')!, site.hosts, {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck}).catch(() => {})
    await atSwap
    const e = JSON.parse(h.text(KEYSTONE_JOURNAL)!) as JournalEntry
    h.files.set(KEYSTONE_JOURNAL, {data: Buffer.from(JSON.stringify({...e, pid: deadPid()})), mode: 0o600})
    h.on(/^systemd-run .*keystone/, (c) => h.swap(c))
  }

  it('journals before changing the host and leaves no entry after an orderly upgrade', async () => {
    const h = lab1()
    h.on(/^systemd-run .*keystone/, (c) => {
      journalAtSwap.push(h.files.has(KEYSTONE_JOURNAL))
      return h.swap(c)
    })
    await upgradeService(await ctx(), (await ctx()).catalog.get('keystone')!, site.hosts, {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    expect(journalAtSwap).toEqual([true])
    expect(h.files.has(KEYSTONE_JOURNAL)).toBe(false)
  })

  it('the killed upgrade left its journal, the new container and the old one kept', async () => {
    await killDuringUpgrade()
    expect(journalAtSwap).toEqual([true])
    const e = JSON.parse(lab1().text(KEYSTONE_JOURNAL)!) as JournalEntry
    expect(e).toMatchObject({op: 'upgrade', service: 'keystone', revision: 2, current: 1, backup: 2})
    expect(keystone().image).toBe('10.0.0.11:4000/osctl/keystone:2')
    expect(keystone().state).toBe('running')
    expect(lab.engines.get('lab-1')!.containers.get('keystone.prev')!.image).toBe('10.0.0.11:4000/osctl/keystone:zed')
    expect(await new Ledger(lab1()).currentNumber('keystone')).toBe(1)
  })

  it('a plain deploy refuses to pick a side and changes nothing', async () => {
    await killDuringUpgrade()
    const before = keystone().id
    const r = await lab.deploy(['keystone'])
    expect(r.hosts[0].ok).toBe(false)
    expect(r.hosts[0].error?.message).toMatch(/interrupted `service upgrade` of keystone to revision 2 .*deploy will not pick a side/)
    expect(keystone().id).toBe(before)
    expect(lab1().files.has(KEYSTONE_JOURNAL)).toBe(true)
  })

  it('rollback undoes it: the kept container swaps back, the pre-upgrade database returns, the revision is marked interrupted', async () => {
    await killDuringUpgrade()
    const r = await rollbackService(await ctx(), (await ctx()).catalog.get('keystone')!, site.hosts, {force: false, reporter: new RecordingReporter()})
    expect(r.interrupted.map((e) => e.op)).toEqual(['upgrade'])
    expect(r.results).toEqual([expect.objectContaining({host: 'lab-1', from: 2, to: 1})])
    const ledger = new Ledger(lab1())
    const rev1 = (await ledger.read('keystone', 1))!.containers[0]
    expect(keystone().imageId).toBe(rev1.imageId)
    expect(keystone().state).toBe('running')
    expect(lab.engines.get('lab-1')!.containers.has('keystone.prev')).toBe(false)
    expect(lab.engines.get('lab-1')!.calls).toContain('rename keystone.prev keystone.next')
    expect(await ledger.currentNumber('keystone')).toBe(1)
    expect((await ledger.read('keystone', 2))!.outcome).toBe('interrupted')
    expect(r.databaseRestored?.revision).toBe(2)
    expect(lab1().calls.find((c) => c.line === 'docker exec -i mariadb mariadb')?.input).toBe('-- dump before the upgrade\n')
    expect(lab1().files.has(KEYSTONE_JOURNAL)).toBe(false)
  })

  it('upgrade completes it: a new revision on the new image, with the snapshot taken before the killed one', async () => {
    await killDuringUpgrade()
    // The database is half-migrated now; a fresh dump would capture that, not the pre-upgrade state.
    lab1().on(/^docker exec mariadb mariadb-dump /, () => '-- HALF MIGRATED\n')
    const r = await upgradeService(await ctx(), (await ctx()).catalog.get('keystone')!, site.hosts, {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    expect(r.backup).toMatchObject({revision: 3})
    expect(lab1().text('/var/lib/osctl/services/keystone/backups/before-3.sql')).toBe('-- dump before the upgrade\n')
    const ledger = new Ledger(lab1())
    expect(await ledger.currentNumber('keystone')).toBe(3)
    expect((await ledger.read('keystone', 3))!).toMatchObject({outcome: 'active', previous: 1})
    expect((await ledger.read('keystone', 2))!.outcome).toBe('interrupted')
    expect(keystone().image).toBe('10.0.0.11:4000/osctl/keystone:2')
    expect(lab1().files.has(KEYSTONE_JOURNAL)).toBe(false)
    // The container the killed run kept for a swap back is not left behind once its change is complete.
    expect(lab.engines.get('lab-1')!.containers.has('keystone.prev')).toBe(false)
    // And a rollback from there returns the pre-upgrade database and image.
    const back = await rollbackService(await ctx(), (await ctx()).catalog.get('keystone')!, site.hosts, {force: false, reporter: new RecordingReporter()})
    expect(back.results[0]).toMatchObject({from: 3, to: 1})
    expect(back.databaseRestored?.revision).toBe(3)
  })

  it('another live osctl holding the service makes upgrade and rollback refuse before anything changes', async () => {
    lab1().files.set(KEYSTONE_JOURNAL, {data: Buffer.from(JSON.stringify(entry({pid: process.ppid}))), mode: 0o600})
    const calls = lab.engines.get('lab-1')!.calls.length
    const up = await upgradeService(await ctx(), (await ctx()).catalog.get('keystone')!, site.hosts, {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck}).catch((e: unknown) => e)
    expect(up).toBeInstanceOf(OsctlError)
    expect((up as OsctlError).message).toMatch(/lab-1: keystone is being changed by another osctl/)
    const down = await rollbackService(await ctx(), (await ctx()).catalog.get('keystone')!, site.hosts, {force: false, reporter: new RecordingReporter()}).catch((e: unknown) => e)
    expect((down as OsctlError).exitCode).toBe(2)
    expect(lab.engines.get('lab-1')!.calls.length).toBe(calls)
  })
})
