import type {Site, SiteHost} from '../site/types.js'
import type {ServiceDef} from './catalog.js'

/** Hosts of the whole inventory that run a service: its group in inventory order; only the first for `hosts: first`. */
export function groupHosts(site: Pick<Site, 'hosts'>, def: Pick<ServiceDef, 'group' | 'hosts'>): SiteHost[] {
  const members = site.hosts.filter((h) => h.groups.includes(def.group))
  return def.hosts === 'first' ? members.slice(0, 1) : members
}
