import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {deploy} from '../../../src/apply/deploy.js'
import {Ledger} from '../../../src/revisions/ledger.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {RevisionRestorer} from '../../../src/lifecycle/revision-restore.js'
import {rollbackService} from '../../../src/lifecycle/service-rollback.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import type {Site} from '../../../src/site/types.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {fakeSession, labHost} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']

describe('service rollback (ledger restore)', () => {
  let site: Site
  let hosts: Map<string, FakeHost>
  let engines: Map<string, FakeEngine>
  let overridesDir: string

  beforeEach(async () => {
    site = testSite()
    engines = new Map(site.hosts.map((h) => [h.name, new FakeEngine()]))
    for (const e of engines.values()) for (const image of SERVICES) e.registry.add(`10.0.0.11:4000/osctl/${image}:zed`)
    hosts = new Map(site.hosts.map((h) => [h.name, labHost(h.name, h.address, engines.get(h.name)!)]))
    overridesDir = await mkdtemp(join(tmpdir(), 'osctl-rb-overrides-'))
  })
  afterEach(async () => {
    await rm(overridesDir, {recursive: true, force: true})
  })

  const run = async (overrides: Overrides) => {
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), overrides, {services: SERVICES, targets: site.hosts})
    return deploy(site, plan, site.hosts, fakeSession(hosts, engines), new RecordingReporter())
  }

  it('restores the previous config file, container spec, image id and unit after an override', async () => {
    await run(Overrides.empty())
    const h = hosts.get('lab-1')!
    const e = engines.get('lab-1')!
    const conf = '/etc/osctl/keystone/keystone.conf'
    const before = {conf: h.text(conf)!, hash: e.containers.get('keystone')!.labels['io.osctl.config-hash'], unit: h.text('/etc/systemd/system/osctl-svc-keystone.service')}

    await writeFile(join(overridesDir, 'keystone.conf'), '[token]\nexpiration = 7200\n')
    await run(await Overrides.load(overridesDir))
    expect(h.text(conf)).toContain('expiration = 7200')
    expect(await new Ledger(h).currentNumber('keystone')).toBe(2)
    expect(e.containers.get('keystone')!.labels['io.osctl.config-hash']).not.toBe(before.hash)

    const result = await new RevisionRestorer(h, e).restore('keystone')
    expect(result).toMatchObject({from: 2, to: 1, recreated: ['keystone']})
    expect(h.text(conf)).toBe(before.conf)
    const restored = e.containers.get('keystone')!
    expect(restored.labels['io.osctl.config-hash']).toBe(before.hash)
    const rev1 = (await new Ledger(h).read('keystone', 1))!.containers[0]
    // Created by image id, not by tag: exactly the image revision 1 ran.
    expect(restored.opts.image).toBe(rev1.imageId)
    expect(restored.imageId).toBe(rev1.imageId)
    expect(restored.state).toBe('running')
    expect(h.text('/etc/systemd/system/osctl-svc-keystone.service')).toBe(before.unit)
    const ledger = new Ledger(h)
    expect(await ledger.currentNumber('keystone')).toBe(1)
    expect((await ledger.read('keystone', 2))!.outcome).toBe('rolled-back')
  })

  it('refuses to leave an image change that may have migrated the database without a snapshot, unless forced', async () => {
    await run(Overrides.empty())
    for (const e of engines.values()) e.registry.add('10.0.0.11:4000/osctl/keystone:2')
    // A plain deploy of another tag changes the image without taking a snapshot.
    const tagged = {...site, config: {...site.config, imageTag: '2'}}
    const plan = planDeploy(tagged, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['keystone'], targets: site.hosts})
    const session = fakeSession(hosts, engines)
    await deploy(tagged, plan, site.hosts, session, new RecordingReporter())
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const ctx = {site, catalog, overrides: Overrides.empty(), targets: site.hosts, session}
    const opts = {force: false, reporter: new RecordingReporter()}
    await expect(rollbackService(ctx, catalog.get('keystone')!, site.hosts, opts)).rejects.toMatchObject({code: 'USAGE', message: expect.stringContaining('no database snapshot')})
    expect(await new Ledger(hosts.get('lab-1')!).currentNumber('keystone')).toBe(2)
    const forced = await rollbackService(ctx, catalog.get('keystone')!, site.hosts, {...opts, force: true})
    expect(forced.results.map((r) => [r.host, r.to])).toEqual([['lab-1', 1], ['lab-2', 1]])
    expect(forced.databaseRestored).toBeUndefined()
  })

  it('refuses when there is nothing to return to, or the revision does not exist, changing nothing', async () => {
    await run(Overrides.empty())
    const h = hosts.get('lab-1')!
    const e = engines.get('lab-1')!
    const restorer = new RevisionRestorer(h, e)
    await expect(restorer.restore('keystone')).rejects.toMatchObject({code: 'USAGE', message: expect.stringContaining('is the first')})
    await expect(restorer.restore('keystone', 9)).rejects.toMatchObject({code: 'USAGE', location: '--to'})
    await expect(restorer.restore('glance-nope')).rejects.toMatchObject({code: 'USAGE', message: expect.stringContaining('never deployed')})
    expect(e.calls.filter((c) => c.startsWith('create keystone'))).toHaveLength(1)
  })
})
