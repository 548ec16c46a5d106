import {describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import type {Site} from '../../../src/site/types.js'
import {testSite} from '../../fakes/site.js'

// RabbitMQ as the catalog renders it: one node, as before, with one control host; a cluster of
// every control host with several, and every OpenStack service given all of its nodes.
const CLIENTS = ['nova', 'nova-compute', 'neutron', 'neutron-agents', 'neutron-linuxbridge-agent']

/** `controls` control hosts lab-1 … (10.0.0.11 …), lab-1 also network, one compute host after them. */
function site(controls: number, vip = controls > 1): Site {
  const s = testSite({enabledServices: [...testSite().config.enabledServices, 'nova-compute', 'nova-libvirt', 'neutron', 'neutron-agents', 'neutron-linuxbridge-agent']}, undefined, 1)
  const host = (i: number, groups: string[]) => ({...s.hosts[0], name: `lab-${i}`, address: `10.0.0.${10 + i}`, groups})
  const control = Array.from({length: controls}, (_, i) => host(i + 1, i === 0 ? ['deploy', 'control', 'network'] : ['control']))
  s.hosts = [...control, host(controls + 1, ['compute'])]
  s.groups = {deploy: ['lab-1'], control: control.map((h) => h.name), network: ['lab-1'], compute: [`lab-${controls + 1}`]}
  // A cluster needs the VIP (group-hosts.ts clustered): without one, clients name the first control host.
  if (vip) s.config = {...s.config, internalVip: '10.0.0.250'}
  return s
}

async function render(s: Site) {
  const plan = planDeploy(s, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['rabbitmq', ...CLIENTS], targets: s.hosts})
  const service = (name: string) => plan.services.find((x) => x.def.name === name)!
  const files = (name: string, host: string) => Object.assign({}, ...service(name).rendered.get(host)!.containers.map((c) => c.files)) as Record<string, string>
  return {service, files}
}

/** Every config file of the OpenStack services that has a transport_url, per host. */
function clientConfigs(r: Awaited<ReturnType<typeof render>>): string[] {
  return CLIENTS.flatMap((n) => r.service(n).hosts.flatMap((h) => Object.values(r.files(n, h.name)).filter((t) => t.includes('transport_url'))))
}

describe('rabbitmq in the catalog', () => {
  it.each([
    ['one control host', site(1)],
    ['three control hosts without a VIP', site(3, false)],
  ])('%s: a single node rabbit@localhost on the first, no cluster settings, the one node in every transport_url', async (_, s) => {
    const r = await render(s)
    expect(r.service('rabbitmq').hosts.map((h) => h.name)).toEqual(['lab-1'])
    const f = r.files('rabbitmq', 'lab-1')
    expect(f['rabbitmq-env.conf']).toMatch(/^NODENAME=rabbit@localhost$/m)
    expect(f['rabbitmq-env.conf']).not.toContain('USE_LONGNAME')
    expect(f['rabbitmq.conf']).not.toContain('cluster_formation')
    expect(r.service('rabbitmq').rendered.get('lab-1')!.containers[0].health.target).toContain('>= 1.')
    // Docker repeats a cheap check (the AMQP port listens), not the gate's Erlang VM start.
    expect(r.service('rabbitmq').rendered.get('lab-1')!.containers[0].monitor).toEqual({kind: 'tcp', target: '10.0.0.11:5672'})
    const configs = clientConfigs(r)
    expect(configs.length).toBeGreaterThanOrEqual(CLIENTS.length)
    for (const text of configs) {
      expect(text).toMatch(/^transport_url = rabbit:\/\/openstack:rabbit@10\.0\.0\.11:5672\/\/$/m)
      expect(text).not.toContain('oslo_messaging_rabbit')
    }
  })

  it('three control hosts: one cluster, nodes named by address, joined by classic_config; the first host gates on running, the others on having joined', async () => {
    const s = site(3)
    const r = await render(s)
    expect(r.service('rabbitmq').def.cluster).toBe('rabbitmq')
    expect(r.service('rabbitmq').hosts.map((h) => h.name)).toEqual(['lab-1', 'lab-2', 'lab-3'])
    for (const [i, name] of ['lab-1', 'lab-2', 'lab-3'].entries()) {
      const f = r.files('rabbitmq', name)
      expect(f['rabbitmq-env.conf']).toMatch(new RegExp(`^NODENAME=rabbit@10\\.0\\.0\\.${11 + i}$`, 'm'))
      expect(f['rabbitmq-env.conf']).toMatch(/^USE_LONGNAME=true$/m)
      expect(f['rabbitmq.conf']).toMatch(/^cluster_formation\.peer_discovery_backend = classic_config$/m)
      expect(f['rabbitmq.conf'].match(/^cluster_formation\.classic_config\.nodes\.\d+ = .*$/gm)).toEqual([1, 2, 3].map((n) => `cluster_formation.classic_config.nodes.${n} = rabbit@10.0.0.${10 + n}`))
      // One cookie for every node.
      expect(f['erlang.cookie']).toBe(r.files('rabbitmq', 'lab-1')['erlang.cookie'])
      expect(r.service('rabbitmq').rendered.get(name)!.containers[0].health.target).toContain(i === 0 ? '>= 1.' : '>= 2.')
    }
  })

  it('three control hosts: every OpenStack service lists every rabbitmq node and asks for quorum queues', async () => {
    const s = site(3)
    const r = await render(s)
    const configs = clientConfigs(r)
    expect(configs.length).toBeGreaterThanOrEqual(CLIENTS.length)
    for (const text of configs) {
      expect(text).toMatch(/^transport_url = rabbit:\/\/openstack:rabbit@10\.0\.0\.11:5672,openstack:rabbit@10\.0\.0\.12:5672,openstack:rabbit@10\.0\.0\.13:5672\/\/$/m)
      expect(text).toMatch(/^\[oslo_messaging_rabbit\]\n(#.*\n)*rabbit_quorum_queue = true$/m)
    }
  })
})
