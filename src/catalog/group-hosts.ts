import type {Site, SiteHost} from '../site/types.js'
import type {ServiceDef} from './catalog.js'

/** Hosts of the whole inventory that run a service: members of any of its groups, in inventory order; only the first for `hosts: first`. */
export function groupHosts(site: Pick<Site, 'hosts'>, def: Pick<ServiceDef, 'group' | 'hosts'>): SiteHost[] {
  // No host declared in `network`: the control hosts are the network hosts (kolla's default).
  const networkIsControl = def.group.includes('network') && !site.hosts.some((h) => h.groups.includes('network'))
  const members = site.hosts.filter((h) => def.group.some((g) => h.groups.includes(g)) || (networkIsControl && h.groups.includes('control')))
  return def.hosts === 'first' ? members.slice(0, 1) : members
}
