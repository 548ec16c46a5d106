import {describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import type {Site} from '../../../src/site/types.js'
import {testSite} from '../../fakes/site.js'

// Neutron as the catalog renders it: which hosts run what, the agents' privileges, the config that
// ties the agents to their host, and nova talking to the real neutron (no stand-in).
const NEUTRON = ['neutron', 'neutron-agents', 'neutron-linuxbridge-agent']

/** lab-1: control + network; lab-2: compute only. */
function site(config: Partial<Site['config']> = {}): Site {
  const s = testSite({enabledServices: [...testSite().config.enabledServices, 'nova-compute', 'nova-libvirt', ...NEUTRON], ...config})
  s.hosts = [{...s.hosts[0], groups: ['deploy', 'control', 'network']}, {...s.hosts[1], groups: ['compute']}]
  s.groups = {deploy: ['lab-1'], control: ['lab-1'], network: ['lab-1'], compute: ['lab-2']}
  return s
}

async function render(s: Site) {
  const plan = planDeploy(s, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: [...NEUTRON, 'nova', 'nova-compute'], targets: s.hosts})
  const on = (service: string, host: string) => plan.services.find((x) => x.def.name === service)?.rendered.get(host)
  const container = (service: string, host: string, name: string) => on(service, host)!.containers.find((c) => c.name === name)!
  return {on, container}
}

describe('neutron in the catalog', () => {
  it('runs the server on control hosts, dhcp/l3/metadata agents on network hosts, linuxbridge agents on network and compute hosts', async () => {
    const {on} = await render(site())
    const names = (service: string, host: string) => on(service, host)?.containers.map((c) => c.name)
    expect(names('neutron', 'lab-1')).toEqual(['neutron-server'])
    expect(names('neutron', 'lab-2')).toBeUndefined()
    expect(names('neutron-agents', 'lab-1')).toEqual(['neutron-dhcp-agent', 'neutron-l3-agent', 'neutron-metadata-agent'])
    expect(names('neutron-agents', 'lab-2')).toBeUndefined()
    expect(names('neutron-linuxbridge-agent', 'lab-1')).toEqual(['neutron-linuxbridge-agent'])
    expect(names('neutron-linuxbridge-agent', 'lab-2')).toEqual(['neutron-linuxbridge-agent'])
    expect(on('neutron', 'lab-1')!.steps.map((s) => s.name)).toEqual(['db-sync', 'keystone-register'])
    expect(on('neutron', 'lab-1')!.containers[0].files['bootstrap/db-sync/config.json']).toContain('upgrade heads')
  })

  it('gives the dhcp and l3 agents what namespaces need, the metadata agent nothing, and all three one state volume', async () => {
    const {container} = await render(site())
    for (const name of ['neutron-dhcp-agent', 'neutron-l3-agent']) {
      const c = container('neutron-agents', 'lab-1', name)
      expect(c.privileges?.capAdd).toEqual(expect.arrayContaining(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE', 'DAC_READ_SEARCH']))
      expect(c.privileges?.securityOpt).toContain('systempaths=unconfined')
      expect(c.volumes).toEqual(['neutron_agents:/var/lib/neutron', '/run/netns:/run/netns:shared'])
    }
    const metadata = container('neutron-agents', 'lab-1', 'neutron-metadata-agent')
    expect(metadata.privileges).toBeUndefined()
    expect(metadata.volumes).toEqual(['neutron_agents:/var/lib/neutron'])
    expect(container('neutron-linuxbridge-agent', 'lab-2', 'neutron-linuxbridge-agent').privileges?.capAdd).toContain('NET_ADMIN')
  })

  it('maps physnet1 to the external bridge on network hosts only, vxlan from each host’s own address', async () => {
    const ini = (s: Site, host: string) => render(s).then(({container}) => container('neutron-linuxbridge-agent', host, 'neutron-linuxbridge-agent').files['linuxbridge_agent.ini'])
    expect(await ini(site(), 'lab-1')).toMatch(/^bridge_mappings = physnet1:br-ex$/m)
    expect(await ini(site(), 'lab-1')).toMatch(/^local_ip = 10\.0\.0\.11$/m)
    expect(await ini(site(), 'lab-2')).not.toMatch(/bridge_mappings/)
    expect(await ini(site(), 'lab-2')).toMatch(/^local_ip = 10\.0\.0\.12$/m)
    expect(await ini(site({neutronExternalBridge: 'br-provider'}), 'lab-1')).toMatch(/^bridge_mappings = physnet1:br-provider$/m)
  })

  it('points nova at neutron from the catalog and shares the metadata secret with the metadata agent', async () => {
    const s = site()
    const {container} = await render(s)
    const secret = s.passwords.neutron_metadata_secret
    expect(container('neutron-agents', 'lab-1', 'neutron-metadata-agent').files['metadata_agent.ini']).toContain(`metadata_proxy_shared_secret = ${secret}`)
    const nova = container('nova', 'lab-1', 'nova-api').files['nova.conf']
    const section = nova.slice(nova.indexOf('[neutron]'), nova.indexOf('[', nova.indexOf('[neutron]') + 1))
    expect(section).not.toMatch(/endpoint_override/)
    expect(section).toMatch(/^service_metadata_proxy = true$/m)
    expect(section).toContain(`metadata_proxy_shared_secret = ${secret}`)
    expect(container('nova', 'lab-1', 'nova-metadata').files['nova-metadata-uwsgi.ini']).toMatch(/^http-socket = 10\.0\.0\.11:8775$/m)
    expect(container('nova-compute', 'lab-2', 'nova-compute').files['nova.conf']).not.toMatch(/endpoint_override|9696/)
  })
})

describe('keystone_authtoken memcache settings', () => {
  it('every API lists each control host as host:port (nothing run into the line) and fails over from a dead one in 1 s', async () => {
    const s = site()
    s.hosts[1].groups = ['control', 'compute']
    s.groups.control = ['lab-1', 'lab-2']
    const plan = planDeploy(s, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['glance', 'placement', 'nova', 'neutron'], targets: s.hosts})
    const files = {glance: 'glance-api.conf', placement: 'placement.conf', nova: 'nova.conf', neutron: 'neutron.conf'}
    for (const [service, file] of Object.entries(files)) {
      const text = plan.services.find((x) => x.def.name === service)!.rendered.get('lab-1')!.containers[0].files[file]
      const section = text.split(/^\[keystone_authtoken\]$/m)[1].split(/^\[/m)[0]
      expect(section, service).toMatch(/^memcached_servers = 10\.0\.0\.11:11211,10\.0\.0\.12:11211$/m)
      expect(section, service).toMatch(/^memcache_pool_socket_timeout = 1$/m)
    }
  })
})
