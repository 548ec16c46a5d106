import {beforeEach, describe, expect, it} from 'vitest'

import {Ledger} from '../../../src/revisions/ledger.js'
import {requireServiceOrContainer} from '../../../src/catalog/service-hosts.js'
import {rollbackService} from '../../../src/lifecycle/service-rollback.js'
import {upgradeService} from '../../../src/lifecycle/service-upgrade.js'
import {OsctlError} from '../../../src/errors.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import type {Site} from '../../../src/site/types.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

// `service upgrade nova-api`: one container of a service changes image, its siblings stay as they run.
const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova']
const IMAGES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler']
const noRegistryCheck = async () => {}

describe('upgrading one container of a service (FakeHost + FakeEngine)', () => {
  let site: Site
  let lab: ReturnType<typeof fakeLab>
  const ctx = () => lab.ctx()
  const lab1 = () => lab.engines.get('lab-1')!
  const upgrade = async (tag: string, containers?: string[]) => {
    const c = await ctx()
    return upgradeService(c, c.catalog.get('nova')!, site.hosts.slice(0, 1), {tag, serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck, containers})
  }
  const rollback = async (container?: string) => {
    const c = await ctx()
    return rollbackService(c, c.catalog.get('nova')!, site.hosts.slice(0, 1), {force: false, reporter: new RecordingReporter(), container})
  }

  beforeEach(async () => {
    site = testSite({}, undefined, 1)
    lab = fakeLab(site, [...registryRefs(IMAGES, ['zed', '3']), ...registryRefs(['nova-api'], ['2'])])
    const r = await lab.deploy(SERVICES)
    expect(r.hosts.every((h) => h.ok), JSON.stringify(r.hosts)).toBe(true)
  })

  it('names a container of a service, or says which one was meant', async () => {
    const c = await ctx()
    expect(requireServiceOrContainer(c, 'nova-api')).toMatchObject({def: {name: 'nova'}, container: 'nova-api'})
    expect(requireServiceOrContainer(c, 'nova')).toEqual({def: c.catalog.get('nova')})
    expect(() => requireServiceOrContainer(c, 'nova-ap')).toThrow(/unknown service or container nova-ap \(did you mean nova-api\?\)/)
  })

  it('changes only nova-api; rollback of nova-api returns it and touches nothing else', async () => {
    const id = (n: string) => lab1().containers.get(n)!.id
    const siblings = () => ['nova-conductor', 'nova-scheduler'].map(id)
    const before = {api: lab1().containers.get('nova-api')!.imageId, siblings: siblings()}
    await upgrade('2', ['nova-api'])
    expect(lab1().containers.get('nova-api')!.image).toBe('10.0.0.11:4000/osctl/nova-api:2')
    expect(siblings()).toEqual(before.siblings)
    const rev = (await new Ledger(lab.hosts.get('lab-1')!).current('nova'))!
    expect(Object.fromEntries(rev.containers.map((c) => [c.name, c.changed]))).toMatchObject({'nova-api': ['image'], 'nova-conductor': [], 'nova-scheduler': []})
    expect(rev.containers.find((c) => c.name === 'nova-conductor')!.image).toBe('10.0.0.11:4000/osctl/nova-conductor:zed')

    // The rollback reads the ledger's current revision once (its checks and the restore share it)
    // and, the units naming no revision, rewrites no unit and reloads nothing.
    const host = lab.hosts.get('lab-1')!
    const reads: string[] = []
    const read = host.readFileIfExists.bind(host)
    host.readFileIfExists = (path: string) => (reads.push(path), read(path))
    const [ops, calls] = [host.ops.length, host.calls.length]
    const r = await rollback('nova-api')
    expect(r.results[0]).toMatchObject({from: rev.revision, to: rev.previous, recreated: ['nova-api']})
    expect(lab1().containers.get('nova-api')!.imageId).toBe(before.api)
    expect(siblings()).toEqual(before.siblings)
    expect(reads.filter((p) => p === '/var/lib/osctl/services/nova/current')).toHaveLength(1)
    expect(host.ops.slice(ops).filter((o) => o.includes('/etc/systemd/system/'))).toEqual([])
    expect(host.commands.slice(calls).filter((c) => c.includes('daemon-reload'))).toEqual([])
  })

  it('refuses to roll back one container when the revision being left changed its siblings too', async () => {
    await upgrade('3')
    const current = lab1().containers.get('nova-api')!.id
    const err = await rollback('nova-api').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OsctlError)
    expect((err as OsctlError).exitCode).toBe(2)
    expect((err as OsctlError).message).toMatch(/going from nova revision 2 to 1 also changes nova-conductor, nova-scheduler.*, not only nova-api/)
    expect((err as OsctlError).hint).toMatch(/osctl service rollback nova`/)
    expect(lab1().containers.get('nova-api')!.id).toBe(current)
  })
})
