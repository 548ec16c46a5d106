import {beforeEach, describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {RELEASE_LABEL, ReadLabels} from '../../../src/lifecycle/cloud-releases.js'
import {upgradeCloud} from '../../../src/lifecycle/cloud-upgrade.js'
import {Ledger} from '../../../src/revisions/ledger.js'
import type {Site} from '../../../src/site/types.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {LabHost, fakeLab, keystoneCrashesOn, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
/** The release each tag's images carry (their io.osctl.openstack-release label). */
const RELEASES: Record<string, string> = {zed: 'zed', '2': 'zed', bad: 'zed', skip: '2024.1', old: 'yoga', next: '2023.1'}
const noRegistryCheck = async () => {}
const fromRegistry: ReadLabels = async (_site, _image, tag) => ({[RELEASE_LABEL]: RELEASES[tag]})

describe('osctl upgrade: the whole cloud, service by service', () => {
  let site: Site
  let lab: ReturnType<typeof fakeLab>
  let hosts: Map<string, LabHost>
  let engines: Map<string, FakeEngine>
  const creates = () => [...engines.values()].flatMap((e) => e.calls.filter((c) => c.startsWith('create ') || c.startsWith('pull ')))

  beforeEach(async () => {
    site = testSite()
    const refs = registryRefs(SERVICES, Object.keys(RELEASES))
    lab = fakeLab(site, refs, () => '-- dump\n')
    ;({hosts, engines} = lab)
    for (const name of hosts.keys()) {
      for (const ref of refs) engines.get(name)!.registryLabels.set(ref, {[RELEASE_LABEL]: RELEASES[ref.split(':').at(-1)!]})
    }
    // keystone:bad crashes at start: no answer on :5000 and the container has exited.
    keystoneCrashesOn(lab, 'bad')
    await lab.deploy(SERVICES)
  })

  it('upgrades every deployed service in dependency order to a new revision; run again, it changes nothing', async () => {
    const reporter = new RecordingReporter()
    // This machine cannot reach the registry: the release is read from a pull on the first host.
    const r = await upgradeCloud(await lab.ctx(), {tag: '2', serial: 1, reporter, verifyImages: noRegistryCheck, readLabels: async () => undefined})
    expect(r).toMatchObject({tag: '2', from: ['zed'], to: 'zed', step: 'same'})
    expect(r.services.map((s) => [s.service, s.status])).toEqual([
      ['mariadb', 'upgraded'],
      ['memcached', 'upgraded'],
      ['rabbitmq', 'upgraded'],
      ['keystone', 'upgraded'],
      ['glance', 'not-deployed'],
      ['placement', 'not-deployed'],
      ['nova', 'not-deployed'],
    ])
    const started = reporter.events.filter((e) => e.code === 'upgrade.service.start').map((e) => (e.data as {service: string}).service)
    expect(started).toEqual(SERVICES)
    for (const [name, e] of engines) {
      const running = SERVICES.filter((s) => e.containers.has(s))
      expect(running.length, name).toBeGreaterThan(1)
      for (const s of running) expect(e.containers.get(s)!.image, `${name} ${s}`).toBe(`10.0.0.11:4000/osctl/${s}:2`)
      expect(await new Ledger(hosts.get(name)!).currentNumber('keystone')).toBe(2)
    }
    // The release was read from a pull before anything changed; mariadb was on its new revision before keystone's own pull.
    const e1 = engines.get('lab-1')!.calls
    const keystonePull = 'pull 10.0.0.11:4000/osctl/keystone:2'
    expect(e1).toEqual(expect.arrayContaining([keystonePull, 'create mariadb.next', 'rm mariadb.prev']))
    expect(e1.indexOf(keystonePull)).toBeLessThan(e1.lastIndexOf('create mariadb.next'))
    expect(e1.lastIndexOf('rm mariadb.prev')).toBeLessThan(e1.lastIndexOf(keystonePull))

    const before = creates().length
    const again = await upgradeCloud(await lab.ctx(), {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck, readLabels: fromRegistry})
    expect(again.services.filter((s) => s.status !== 'not-deployed').map((s) => s.status)).toEqual(['already', 'already', 'already', 'already'])
    expect(creates().length).toBe(before)
  })

  it('stops at the first service that fails: it is restored, the ones before stay upgraded and are listed (exit 4)', async () => {
    const err = await upgradeCloud(await lab.ctx(), {tag: 'bad', serial: 2, reporter: new RecordingReporter(), verifyImages: noRegistryCheck, readLabels: fromRegistry}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OsctlError)
    const e = err as OsctlError
    expect(e.exitCode).toBe(4)
    expect(e.message).toMatch(/^upgrade to bad stopped at keystone: keystone bad failed on .*; upgraded: mariadb, memcached, rabbitmq$/)
    expect(e.hint).toMatch(/run the same `osctl upgrade --tag bad` again: services already on bad are skipped/)
    const details = e.details as {services: Array<{service: string; status: string}>}
    expect(details.services.slice(0, 4).map((s) => s.status)).toEqual(['upgraded', 'upgraded', 'upgraded', 'failed'])
    expect(engines.get('lab-1')!.containers.get('mariadb')!.image).toBe('10.0.0.11:4000/osctl/mariadb:bad')
    for (const eng of engines.values()) {
      expect(eng.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:zed')
      expect(eng.containers.get('keystone')!.state).toBe('running')
    }
  })

  it('refuses a release jump, a downgrade, mixed releases and a release osctl.yml does not name (exit 2), before touching any host', async () => {
    const before = creates().length
    const refusal = async (tag: string, readLabels: ReadLabels = fromRegistry, s = site) => {
      const err = await upgradeCloud({...(await lab.ctx()), site: s}, {tag, serial: 1, reporter: new RecordingReporter(), verifyImages: noRegistryCheck, readLabels}).catch((x: unknown) => x)
      expect(err, tag).toBeInstanceOf(OsctlError)
      expect((err as OsctlError).exitCode, tag).toBe(2)
      return err as OsctlError
    }
    expect((await refusal('skip')).message).toBe('refusing to skip from zed (2022.2) to 2024.1 (caracal)')
    expect((await refusal('old')).message).toBe('refusing a downgrade from zed (2022.2) to yoga (2022.1)')
    const mixed = await refusal('next', async (_s, image) => ({[RELEASE_LABEL]: image === 'keystone' ? '2023.1' : 'zed'}))
    expect(mixed.message).toBe('the images of tag next mix releases: zed (2022.2): mariadb, memcached, rabbitmq; 2023.1 (antelope): keystone')
    const unnamed = await refusal('next')
    expect(unnamed.message).toBe('the images of tag next are 2023.1 (antelope), but osctl.yml says openstack_release: zed')
    expect(unnamed.location).toBe('/nonexistent/site/osctl.yml')
    expect(await refusal('2', async () => ({}))).toMatchObject({message: `image mariadb:2 carries no ${RELEASE_LABEL} label`})
    expect(creates().length).toBe(before)

    // Once osctl.yml names the next release, the step is allowed.
    const next = {...site, config: {...site.config, openstackRelease: '2023.1'}}
    const r = await upgradeCloud({...(await lab.ctx()), site: next}, {tag: 'next', serial: 2, reporter: new RecordingReporter(), verifyImages: noRegistryCheck, readLabels: fromRegistry})
    expect(r).toMatchObject({from: ['zed'], to: '2023.1', step: 'next'})
    expect(engines.get('lab-2')!.containers.get('keystone')!.image).toBe('10.0.0.11:4000/osctl/keystone:next')
  })
})

describe('upgrade order', () => {
  it("is kolla's: infrastructure, keystone, glance, neutron (its server before its agents) and placement, nova, then the computes", async () => {
    const {loadCatalog} = await import('../../../src/catalog/catalog.js')
    const {TEMPLATES_DIR} = await import('../../../src/paths.js')
    const {upgradeOrder} = await import('../../../src/lifecycle/cloud-upgrade.js')
    const names = upgradeOrder((await loadCatalog(TEMPLATES_DIR)).services).map((s) => s.name)
    // nova-libvirt needs nothing else (depth 0, with the infrastructure); nova-compute comes after it.
    expect(names).toEqual(['mariadb', 'memcached', 'nova-libvirt', 'rabbitmq', 'keystone', 'glance', 'neutron', 'placement', 'neutron-agents', 'neutron-linuxbridge-agent', 'nova', 'nova-compute'])
    // Within nova the API container comes first: a service's containers change in their listed order.
    const nova = (await loadCatalog(TEMPLATES_DIR)).get('nova')!
    expect(nova.containers.map((c) => c.name).slice(0, 3)).toEqual(['nova-api', 'nova-conductor', 'nova-scheduler'])
  })
})
