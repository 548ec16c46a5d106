import {beforeEach, describe, expect, it} from 'vitest'

import {Ledger} from '../../../src/revisions/ledger.js'
import {rollbackService} from '../../../src/lifecycle/service-rollback.js'
import {upgradeService} from '../../../src/lifecycle/service-upgrade.js'
import {OsctlError} from '../../../src/errors.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import type {Site} from '../../../src/site/types.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {LabHost, fakeLab, keystoneCrashesOn, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
const noRegistryCheck = async () => {}

describe('service upgrade (batches, health gate, automatic restore)', () => {
  let site: Site
  let lab: ReturnType<typeof fakeLab>
  let hosts: Map<string, LabHost>
  let engines: Map<string, FakeEngine>

  beforeEach(async () => {
    site = testSite()
    lab = fakeLab(site, [...registryRefs(SERVICES, ['zed']), ...registryRefs(['keystone'], ['2', '3', 'bad'])], (c) => `-- dump of ${c.argv!.slice(c.argv!.indexOf('--databases') + 1).join(' ')}\n`)
    ;({hosts, engines} = lab)
    // keystone:bad crashes at start: no answer on :5000 and the container has exited.
    keystoneCrashesOn(lab, 'bad')
    await lab.deploy(SERVICES)
  })

  const ctx = () => lab.ctx()

  it('pulls on every host first, then upgrades one host per batch to a new revision', async () => {
    const c = await ctx()
    const reporter = new RecordingReporter()
    const r = await upgradeService(c, c.catalog.get('keystone')!, site.hosts, {tag: '2', serial: 1, reporter, verifyImages: noRegistryCheck})
    expect(r.batches).toEqual([{hosts: ['lab-1'], ok: true}, {hosts: ['lab-2'], ok: true}])
    // keystone's database was saved on the mariadb host before revision 2 could migrate it.
    expect(r.backup).toMatchObject({service: 'keystone', revision: 2, databases: ['keystone']})
    expect(hosts.get('lab-1')!.text('/var/lib/osctl/services/keystone/backups/before-2.sql')).toBe('-- dump of keystone\n')
    for (const [name, e] of engines) {
      expect(e.containers.get('keystone')!.image, name).toBe('10.0.0.11:4000/osctl/keystone:2')
      expect(await new Ledger(hosts.get(name)!).currentNumber('keystone')).toBe(2)
    }
    // Both pulls happen before the first container is recreated.
    const e2 = engines.get('lab-2')!.calls
    expect(e2.indexOf('pull 10.0.0.11:4000/osctl/keystone:2')).toBeLessThan(e2.lastIndexOf('create keystone.next'))
    // The old container was kept (stopped, renamed) until the new one was healthy, then removed.
    expect(e2.lastIndexOf('rename keystone keystone.prev')).toBeLessThan(e2.lastIndexOf('rename keystone.next keystone'))
    expect(e2.at(-1)).toBe('rm keystone.prev')
    expect(engines.get('lab-2')!.containers.has('keystone.prev')).toBe(false)
  })

  it('an upgrade to an image with the same keystone code does not run its bootstrap (db sync + bootstrap: its image paths are unchanged); other code runs it', async () => {
    const e1 = engines.get('lab-1')!
    e1.imageContent.set('10.0.0.11:4000/osctl/keystone:2', e1.containers.get('keystone')!.imageId)
    const steps = () => e1.calls.filter((x) => x.startsWith('create osctl-bootstrap-keystone-')).map((x) => x.slice('create osctl-bootstrap-keystone-'.length))
    const before = steps().length
    const c = await ctx()
    await upgradeService(c, c.catalog.get('keystone')!, site.hosts, {tag: '2', serial: 2, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    expect(e1.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:2')
    expect(steps().slice(before)).toEqual([])
    const mid = steps().length
    await upgradeService(await ctx(), c.catalog.get('keystone')!, site.hosts, {tag: '3', serial: 2, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    expect(steps().slice(mid)).toEqual(['bootstrap'])
  })

  it('a batch that never becomes healthy is restored, later batches are untouched, exit 4', async () => {
    const c = await ctx()
    const err = await upgradeService(c, c.catalog.get('keystone')!, site.hosts, {tag: 'bad', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OsctlError)
    expect((err as OsctlError).exitCode).toBe(4)
    expect((err as OsctlError).message).toMatch(/failed on lab-1 .*restored the previous revision there; not touched: lab-2/)
    const e1 = engines.get('lab-1')!
    const rev1 = (await new Ledger(hosts.get('lab-1')!).read('keystone', 1))!.containers[0]
    expect(e1.containers.get('keystone')!.imageId).toBe(rev1.imageId)
    expect(e1.containers.get('keystone')!.labels['io.osctl.config-hash']).toBe(rev1.hash)
    expect(e1.containers.get('keystone')!.state).toBe('running')
    // The undo was the kept container swapped back, not a new one; the failed one is gone.
    // (one create for the first deploy, one for the upgrade, none for the undo)
    expect(e1.calls.filter((x) => x.startsWith('create keystone'))).toEqual(['create keystone.next', 'create keystone.next'])
    expect(e1.calls).toContain('rename keystone.prev keystone.next')
    expect([...e1.containers.keys()].filter((k) => k.startsWith('keystone'))).toEqual(['keystone'])
    const ledger = new Ledger(hosts.get('lab-1')!)
    expect(await ledger.currentNumber('keystone')).toBe(1)
    expect((await ledger.read('keystone', 2))!.outcome).toBe('failed')
    expect(engines.get('lab-2')!.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:zed')
    // The failed batch held the migration host: the snapshot went back into mariadb.
    const restore = hosts.get('lab-1')!.calls.find((c) => c.line === 'docker exec -i mariadb mariadb')
    expect(restore?.input).toBe('-- dump of keystone\n')
  })

  it('images that can share their port: the next keystone runs beside the old one until ready, then the swap; a next one that never gets ready changes nothing', async () => {
    const overlap = {'io.osctl.swap': 'overlap', 'io.osctl.ready-log': 'ready to serve'}
    const e = engines.get('lab-1')!
    const zed = '10.0.0.11:4000/osctl/keystone:zed'
    e.images.set(zed, {...e.images.get(zed)!, labels: overlap})
    e.addImage('10.0.0.11:4000/osctl/keystone:2', overlap)
    e.addImage('10.0.0.11:4000/osctl/keystone:bad', overlap)
    // The fake's logs: a container from :2 says it is ready; one from :bad crashes while loading.
    const logs = e.containerLogs.bind(e)
    e.containerLogs = async (name: string) => {
      if (name.startsWith('osctl-fingerprint-')) return logs(name)
      const c = e.containers.get(name)
      if (!c?.image.endsWith(':bad')) return 'ready to serve\n'
      c.state = 'exited'
      return 'still loading\nTraceback: boom\n'
    }
    const c = await ctx()
    await upgradeService(c, c.catalog.get('keystone')!, site.hosts.slice(0, 1), {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    const calls = e.calls.slice(e.calls.lastIndexOf('create keystone.next'))
    // Started beside the running one, before the swap stopped the old one.
    expect(calls.indexOf('start keystone.next')).toBeGreaterThan(0)
    expect(calls.indexOf('start keystone.next')).toBeLessThan(calls.indexOf('stop keystone'))
    expect(e.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:2')

    const running = e.containers.get('keystone')!.id
    const bad = await upgradeService(c, c.catalog.get('keystone')!, site.hosts.slice(0, 1), {tag: 'bad', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck}).catch((x: unknown) => x)
    expect((bad as OsctlError).exitCode).toBe(4)
    expect((bad as OsctlError).message).toMatch(/the new keystone container exited \(exited\) while the running one kept serving/)
    // The running container was never stopped or replaced; the next one is gone.
    expect(e.containers.get('keystone')!.id).toBe(running)
    expect(e.containers.get('keystone')!.state).toBe('running')
    expect(e.containers.has('keystone.next')).toBe(false)
  })

  it('rollback_standby: the upgraded API\'s previous container runs on, loaded, until a rollback swaps it back without a new container; only an image change keeps one', async () => {
    site.config.rollbackStandbySeconds = 600
    const overlap = {'io.osctl.swap': 'overlap', 'io.osctl.ready-log': 'ready to serve', 'io.osctl.openstack-release': 'zed'}
    const e = engines.get('lab-1')!
    const h = hosts.get('lab-1')!
    const zed = '10.0.0.11:4000/osctl/keystone:zed'
    e.images.set(zed, {...e.images.get(zed)!, labels: overlap})
    e.addImage('10.0.0.11:4000/osctl/keystone:2', overlap)
    e.output.set('keystone.next', 'ready to serve\n')
    e.output.set('keystone.prev', 'ready to serve\n')
    // The schema does not move: the rollback keeps the database and takes the standby as it runs.
    for (const x of hosts.values()) x.on(/^docker exec mariadb sh -c /, () => 'keystone\tuser\tid\tvarchar(64)\tNO\tNULL\tPRI\n')
    const c = await ctx()
    const keystone = c.catalog.get('keystone')!
    const before = e.containers.get('keystone')!.id
    const reporter = new RecordingReporter()
    await upgradeService(c, keystone, site.hosts.slice(0, 1), {tag: '2', serial: 1, reporter, verifyImages: noRegistryCheck})
    // The killed previous container started again, at the warm-up weight, with a timer that ends it in 600 s.
    expect(e.containers.get('keystone.prev')).toMatchObject({id: before, state: 'running'})
    expect(e.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:2')
    const standby = h.calls.find((x) => x.argv?.[0] === 'sh' && x.argv[4] === 'keystone' && x.argv[3] === 'osctl-standby')
    expect(standby?.argv?.slice(4)).toEqual(['keystone', '600', '/var/lib/osctl/libexec/osctl-standby-expire', 'osctl-standby-keystone'])
    expect(standby?.argv?.[2]).toMatch(/docker update --cpu-shares 128 "\$name.prev"/)
    expect(standby?.argv?.[2]).toMatch(/systemd-run .*--on-active="\$\{seconds\}s"/)
    expect(h.text('/var/lib/osctl/libexec/osctl-standby-expire')).toContain('= "/$name.prev" ] || exit 0')
    expect(reporter.events.some((x) => x.code === 'service.standby')).toBe(true)

    // The rollback takes it as it runs: renamed to .next, no container created, the upgraded one dropped after the health gate.
    e.calls.length = 0
    h.calls.length = 0
    await rollbackService(c, keystone, site.hosts.slice(0, 1), {force: false, reporter: new RecordingReporter()})
    expect(e.calls).toContain('rename keystone.prev keystone.next')
    // Its timer stopped first: it cannot remove the standby while the rollback takes it.
    expect(h.calls.map((x) => x.line)).toContain('systemctl stop osctl-standby-keystone.timer osctl-standby-keystone.service')
    expect(e.calls).not.toContain('stop keystone.prev')
    expect(e.calls.filter((x) => x.startsWith('create keystone'))).toEqual([])
    expect(e.containers.get('keystone')).toMatchObject({id: before, state: 'running', image: zed})
    expect(e.containers.has('keystone.prev')).toBe(false)

    // A deploy back to the site's tag (the standby's spec) takes the standby into service too.
    await upgradeService(c, keystone, site.hosts.slice(0, 1), {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    const second = e.containers.get('keystone.prev')!
    expect(second.state).toBe('running')
    e.calls.length = 0
    await lab.deploy(SERVICES)
    expect(e.containers.has('keystone.prev')).toBe(false)
    expect(e.containers.get('keystone')).toMatchObject({id: second.id, state: 'running'})
    expect(e.calls).toContain('rename keystone.prev keystone.next')

    // A standby that cannot be kept (the host's script fails) leaves the upgrade done and healthy: the previous container goes, as without one.
    h.once(/^sh -c [\s\S]* osctl-standby /, () => ({exitCode: 1, stderr: 'systemd-run: Unit osctl-standby-keystone.timer was already loaded\n'}))
    const failed = new RecordingReporter()
    await upgradeService(c, keystone, site.hosts.slice(0, 1), {tag: '2', serial: 1, reporter: failed, verifyImages: noRegistryCheck})
    expect(e.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:2')
    expect(e.containers.has('keystone.prev')).toBe(false)
    expect(failed.events.find((x) => x.code === 'service.standby')?.data).toMatchObject({container: 'keystone', seconds: 0, error: expect.stringMatching(/already loaded/)})
    await rollbackService(c, keystone, site.hosts.slice(0, 1), {force: false, reporter: new RecordingReporter()})
    expect(e.containers.get('keystone')!.imageId).toBe(e.images.get(zed)!.id)

    // An upgrade that also changes a config file keeps none: the previous container's config dir would no longer be its own.
    site.config.keystoneApiWorkers = 3
    const both = new RecordingReporter()
    await upgradeService(await ctx(), keystone, site.hosts.slice(0, 1), {tag: '2', serial: 1, reporter: both, verifyImages: noRegistryCheck})
    expect(e.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:2')
    expect(e.containers.has('keystone.prev')).toBe(false)
    expect(both.events.some((x) => x.code === 'service.standby')).toBe(false)
  })

  it('rollback_standby: none across OpenStack releases (an older nova would write its service version back); a rollback that restores the database reloads the standby', async () => {
    site.config.rollbackStandbySeconds = 600
    const overlap = {'io.osctl.swap': 'overlap', 'io.osctl.ready-log': 'ready to serve'}
    const e = engines.get('lab-1')!
    const zed = '10.0.0.11:4000/osctl/keystone:zed'
    e.images.set(zed, {...e.images.get(zed)!, labels: {...overlap, 'io.osctl.openstack-release': 'zed'}})
    e.addImage('10.0.0.11:4000/osctl/keystone:2', {...overlap, 'io.osctl.openstack-release': '2023.1'})
    e.addImage('10.0.0.11:4000/osctl/keystone:3', {...overlap, 'io.osctl.openstack-release': 'zed'})
    for (const n of ['keystone.next', 'keystone.prev']) e.output.set(n, 'ready to serve\n')
    const c = await ctx()
    const keystone = c.catalog.get('keystone')!
    await upgradeService(c, keystone, site.hosts.slice(0, 1), {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    expect(e.containers.has('keystone.prev')).toBe(false)
    await rollbackService(c, keystone, site.hosts.slice(0, 1), {force: false, reporter: new RecordingReporter()})

    // Same release: a standby; the rollback finds the schema moved, restores the snapshot and stops the standby first, then starts it again.
    let schema = 'keystone\tuser\tid\tvarchar(64)\tNO\tNULL\tPRI\n'
    for (const h of hosts.values()) h.on(/^docker exec mariadb sh -c /, () => schema)
    await upgradeService(c, keystone, site.hosts.slice(0, 1), {tag: '3', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    const standby = e.containers.get('keystone.prev')!
    expect(standby.state).toBe('running')
    schema += 'keystone\tosctl_migrated\tid\tint(11)\tYES\tNULL\t\n'
    e.calls.length = 0
    const back = await rollbackService(c, keystone, site.hosts.slice(0, 1), {force: false, reporter: new RecordingReporter()})
    expect(back.databaseRestored).toBeDefined()
    expect(e.calls.indexOf('stop keystone.prev')).toBeGreaterThanOrEqual(0)
    // Its timer stopped before it was: stopped, it is no longer the timer's to remove.
    expect(hosts.get('lab-1')!.calls.map((x) => x.line)).toContain('systemctl stop osctl-standby-keystone.timer osctl-standby-keystone.service')
    expect(e.calls.indexOf('stop keystone.prev')).toBeLessThan(e.calls.indexOf('rename keystone.prev keystone.next'))
    expect(e.calls.indexOf('start keystone.next')).toBeGreaterThan(e.calls.indexOf('rename keystone.prev keystone.next'))
    expect(e.containers.get('keystone')).toMatchObject({id: standby.id, state: 'running', imageId: e.images.get(zed)!.id})
  })

  it('rollback restores the snapshot only when the schema moved since it was taken', async () => {
    let schema = 'keystone\tuser\tid\tvarchar(64)\tNO\tNULL\tPRI\n'
    // The fingerprint's one docker exec (FINGERPRINT_SCRIPT): what mariadb answers for the schema.
    for (const h of hosts.values()) h.on(/^docker exec mariadb sh -c /, () => schema)
    const c = await ctx()
    const keystone = c.catalog.get('keystone')!
    const restores = () => hosts.get('lab-1')!.calls.filter((x) => x.line === 'docker exec -i mariadb mariadb').length
    const up = await upgradeService(c, keystone, site.hosts, {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    expect(up.backup?.schema).toMatch(/^sha256:/)
    // The new image did not migrate: the databases stay as they are (nothing written since is lost).
    const kept = await rollbackService(c, keystone, site.hosts, {force: false, reporter: new RecordingReporter()})
    expect(kept.databaseRestored).toBeUndefined()
    expect(kept.databaseKept?.revision).toBe(up.backup!.revision)
    expect(restores()).toBe(0)

    const again = await upgradeService(c, keystone, site.hosts, {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck})
    schema += 'keystone\tosctl_migrated\tid\tint(11)\tYES\tNULL\t\n' // what a migration leaves
    const back = await rollbackService(c, keystone, site.hosts, {force: false, reporter: new RecordingReporter()})
    expect(back.databaseRestored?.revision).toBe(again.backup!.revision)
    expect(restores()).toBe(1)
  })
})
