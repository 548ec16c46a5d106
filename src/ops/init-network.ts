import {readFile} from 'node:fs/promises'

import {OsctlError} from '../errors.js'
import type {GuestImage} from '../images/guest/guest-image.js'
import {GUEST_IMAGE_NAME} from '../images/guest/guest-image.js'
import type {Site} from '../site/types.js'
import type {OpenStackApi} from './openstack-api.js'

/** What kolla's init-runonce makes, by these names; each is looked up first, so a second run changes nothing. */
export const INIT_NETWORK = {
  external: 'public',
  externalSubnet: 'public-subnet',
  physnet: 'physnet1',
  private: 'private',
  privateSubnet: 'private-subnet',
  privateCidr: '10.0.0.0/24',
  router: 'private-router',
  flavor: {name: 'm1.tiny', ram: 256, vcpus: 1, disk: 1},
} as const

export interface InitItem {
  kind: 'network' | 'subnet' | 'router' | 'router-interface' | 'security-group-rule' | 'flavor' | 'image'
  name: string
  id: string
  changed: boolean
}

type Row = Record<string, unknown> & {id: string}

/** The external network as osctl.yml describes it, or a usage error naming the missing key. */
export function externalNetwork(site: Site): {cidr: string; gateway: string; start: string; end: string} {
  const ext = site.config.externalNetwork
  const missing = !ext ? 'external_network_cidr' : !ext.gateway ? 'external_network_gateway' : !ext.range ? 'external_network_range' : undefined
  if (missing || !ext?.gateway || !ext.range) {
    throw new OsctlError('CONFIG_INVALID', `--init-network needs ${missing} in osctl.yml`, {
      location: site.files.config,
      hint: 'describe the provider network of the network hosts, e.g. external_network_cidr: 10.99.0.0/24, external_network_gateway: 10.99.0.1, external_network_range: 10.99.0.100-10.99.0.199',
    })
  }
  const [start, end] = ext.range.split('-')
  return {cidr: ext.cidr, gateway: ext.gateway, start, end}
}

/**
 * The cloud's first networks, a router between them, ICMP and SSH allowed in the admin project's
 * default security group, flavor m1.tiny and the test guest as image osctl-guest.
 */
export async function initNetwork(api: OpenStackApi, site: Site, guest: () => Promise<GuestImage>): Promise<InitItem[]> {
  const ext = externalNetwork(site)
  const items: InitItem[] = []
  const net = async (path: string, key: string, query: string, create: Record<string, unknown>, kind: InitItem['kind'], name: string): Promise<Row> => {
    const found = (await api.request<Record<string, Row[]>>('network', 'GET', `/v2.0/${path}?${query}`))[`${key}s`]?.[0]
    if (found) {
      items.push({kind, name, id: found.id, changed: false})
      return found
    }
    const made = (await api.request<Record<string, Row>>('network', 'POST', `/v2.0/${path}`, {[key]: create}))[key]
    items.push({kind, name, id: made.id, changed: true})
    return made
  }
  const q = (o: Record<string, string>) => new URLSearchParams(o).toString()
  const N = INIT_NETWORK

  const pub = await net('networks', 'network', q({name: N.external}), {name: N.external, 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': N.physnet}, 'network', N.external)
  await net('subnets', 'subnet', q({name: N.externalSubnet, network_id: pub.id}), {name: N.externalSubnet, network_id: pub.id, ip_version: 4, cidr: ext.cidr, gateway_ip: ext.gateway, allocation_pools: [{start: ext.start, end: ext.end}], enable_dhcp: false}, 'subnet', N.externalSubnet)
  const priv = await net('networks', 'network', q({name: N.private, project_id: api.projectId}), {name: N.private}, 'network', N.private)
  const privSubnet = await net('subnets', 'subnet', q({name: N.privateSubnet, network_id: priv.id}), {name: N.privateSubnet, network_id: priv.id, ip_version: 4, cidr: N.privateCidr}, 'subnet', N.privateSubnet)
  const router = await net('routers', 'router', q({name: N.router, project_id: api.projectId}), {name: N.router, external_gateway_info: {network_id: pub.id}}, 'router', N.router)
  if ((router.external_gateway_info as {network_id?: string} | null)?.network_id !== pub.id) {
    await api.request('network', 'PUT', `/v2.0/routers/${router.id}`, {router: {external_gateway_info: {network_id: pub.id}}})
    items.push({kind: 'router', name: `${N.router} gateway`, id: router.id, changed: true})
  }
  const ports = (await api.request<{ports: Row[]}>('network', 'GET', `/v2.0/ports?${q({device_id: router.id, network_id: priv.id})}`)).ports
  if (ports.length === 0) await api.request('network', 'PUT', `/v2.0/routers/${router.id}/add_router_interface`, {subnet_id: privSubnet.id})
  items.push({kind: 'router-interface', name: `${N.router}:${N.privateSubnet}`, id: router.id, changed: ports.length === 0})

  // Listing the project's groups makes neutron create its default group when it has none yet.
  const groups = (await api.request<{security_groups: Array<Row & {security_group_rules: Row[]}>}>('network', 'GET', `/v2.0/security-groups?${q({name: 'default', project_id: api.projectId})}`)).security_groups
  const sg = groups[0]
  if (!sg) throw new OsctlError('COMMAND_FAILED', 'neutron has no default security group for the admin project')
  for (const rule of [{protocol: 'icmp'}, {protocol: 'tcp', port_range_min: 22, port_range_max: 22}]) {
    const name = rule.protocol === 'icmp' ? 'default: ingress icmp' : 'default: ingress tcp 22'
    const have = sg.security_group_rules.find((r) => r.direction === 'ingress' && r.ethertype === 'IPv4' && r.protocol === rule.protocol && (r.port_range_min ?? undefined) === (rule.port_range_min ?? undefined) && !r.remote_group_id)
    if (have) items.push({kind: 'security-group-rule', name, id: have.id, changed: false})
    else {
      const made = (await api.request<{security_group_rule: Row}>('network', 'POST', '/v2.0/security-group-rules', {security_group_rule: {security_group_id: sg.id, direction: 'ingress', ethertype: 'IPv4', remote_ip_prefix: '0.0.0.0/0', ...rule}})).security_group_rule
      items.push({kind: 'security-group-rule', name, id: made.id, changed: true})
    }
  }

  const flavors = (await api.request<{flavors: Row[]}>('compute', 'GET', '/flavors')).flavors
  const flavor = flavors.find((f) => f.name === N.flavor.name)
  if (flavor) items.push({kind: 'flavor', name: N.flavor.name, id: flavor.id, changed: false})
  else {
    const made = (await api.request<{flavor: Row}>('compute', 'POST', '/flavors', {flavor: {...N.flavor}})).flavor
    items.push({kind: 'flavor', name: N.flavor.name, id: made.id, changed: true})
  }

  items.push(await guestImage(api, guest))
  return items
}

/** osctl-guest in glance; a guest with other content (its sha256 in property osctl_digest) replaces it. */
async function guestImage(api: OpenStackApi, guest: () => Promise<GuestImage>): Promise<InitItem> {
  const g = await guest()
  const images = (await api.request<{images: Row[]}>('image', 'GET', `/v2/images?name=${GUEST_IMAGE_NAME}`)).images
  const same = images.find((i) => i.osctl_digest === g.digest && i.status === 'active')
  if (same) return {kind: 'image', name: GUEST_IMAGE_NAME, id: same.id, changed: false}
  const made = await api.request<Row>('image', 'POST', '/v2/images', {name: GUEST_IMAGE_NAME, disk_format: 'qcow2', container_format: 'bare', visibility: 'public', osctl_digest: g.digest})
  await api.upload('image', `/v2/images/${made.id}/file`, await readFile(g.path), 'application/octet-stream')
  // Only once the new one is active: a server created meanwhile still finds an image by the name.
  for (const old of images) await api.request('image', 'DELETE', `/v2/images/${old.id}`)
  return {kind: 'image', name: GUEST_IMAGE_NAME, id: made.id, changed: true}
}
