import {describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {configSchema, toSiteConfig} from '../../../src/site/config-schema.js'
import type {Site} from '../../../src/site/types.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute']
/** Every rendered container of the control host, by name. */
const containers = async (site: Site) => {
  const plan = await planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {targets: site.hosts})
  const host = site.groups.control[0]
  return Object.fromEntries(plan.services.flatMap((s) => s.rendered.get(host)?.containers ?? []).map((c) => [c.name, c]))
}
const command = (c: {files: Record<string, string>}) => (JSON.parse(c.files['config.json']).command as string[]).join(' ')

describe('openstack_service_workers (osctl.yml, kolla\'s name): processes per API service', () => {
  it('set: each uwsgi API gets --processes after its ini (the later value wins), glance-api its workers; nova-metadata stays at 1', async () => {
    const c = await containers(testSite({enabledServices: SERVICES, novaComputeDriver: 'fake', openstackServiceWorkers: 3, keystoneApiWorkers: 3}))
    for (const name of ['keystone', 'placement-api', 'nova-api']) expect(command(c[name]), name).toMatch(/^sh -c exec uwsgi --ini \S+\.ini --processes 3 --pyimport /)
    expect(c['glance-api'].files['glance-api.conf']).toMatch(/^workers = 3$/m)
    expect(command(c['nova-metadata'])).not.toContain('--processes')
    // keystone_api_workers: keystone's own, the others keep openstack_service_workers.
    const k = await containers(testSite({enabledServices: SERVICES, novaComputeDriver: 'fake', openstackServiceWorkers: 1, keystoneApiWorkers: 2}))
    expect([command(k.keystone), command(k['nova-api'])].map((x) => /--processes (\d+)/.exec(x)?.[1])).toEqual(['2', '1'])
  })

  it('osctl.yml: keystone_api_workers follows openstack_service_workers unless set', () => {
    const config = (extra: object) => toSiteConfig(configSchema.parse({registry: 'r:4000', network_interface: 'eth0', ...extra}), '/s')
    expect(config({openstack_service_workers: 3})).toMatchObject({openstackServiceWorkers: 3, keystoneApiWorkers: 3})
    expect(config({openstack_service_workers: 1, keystone_api_workers: 2})).toMatchObject({openstackServiceWorkers: 1, keystoneApiWorkers: 2})
    expect(config({})).toMatchObject({openstackServiceWorkers: undefined, keystoneApiWorkers: undefined})
  })

  it('unset: the images\' ini decides (one process per core), glance-api 2', async () => {
    const c = await containers(testSite({enabledServices: SERVICES, novaComputeDriver: 'fake'}))
    for (const name of ['keystone', 'placement-api', 'nova-api']) expect(command(c[name]), name).not.toContain('--processes')
    expect(c['glance-api'].files['glance-api.conf']).toMatch(/^workers = 2$/m)
  })
})
