import type {SiteHost} from '../site/types.js'
import type {ServiceDef} from './catalog.js'

/**
 * A clustered service (catalog-schema.ts `cluster`: Galera, RabbitMQ) runs on every control host
 * only behind a VIP, where clients reach whichever node is up; without one, clients name the first
 * control host, so one server there is all a cluster would give them.
 */
export function clustered(site: {config?: {internalVip?: string}; hosts: SiteHost[]}): boolean {
  return site.config?.internalVip !== undefined && site.hosts.filter((h) => h.groups.includes('control')).length > 1
}

/**
 * Hosts of the whole inventory that run a service: members of any of its groups, in inventory
 * order; only the first for `hosts: first`, and for a clustered service on a site without a VIP.
 */
export function groupHosts(site: {config?: {internalVip?: string}; hosts: SiteHost[]}, def: Pick<ServiceDef, 'group' | 'hosts'> & {cluster?: ServiceDef['cluster']}): SiteHost[] {
  // No host declared in `network`: the control hosts are the network hosts (kolla's default).
  const networkIsControl = def.group.includes('network') && !site.hosts.some((h) => h.groups.includes('network'))
  const members = site.hosts.filter((h) => def.group.some((g) => h.groups.includes(g)) || (networkIsControl && h.groups.includes('control')))
  return def.hosts === 'first' || (def.cluster !== undefined && !clustered(site)) ? members.slice(0, 1) : members
}

