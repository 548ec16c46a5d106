import {OsctlError} from '../errors.js'
import {nearestName} from '../site/nearest-name.js'
import type {SiteHost} from '../site/types.js'
import type {Catalog, ServiceDef} from './catalog.js'
import {groupHosts} from './group-hosts.js'

/** What names and hosts of services are resolved against: the site, its catalog, the hosts this run works on (--limit). */
export interface CatalogScope {
  site: Site
  catalog: Catalog
  targets: SiteHost[]
}
import type {Site} from '../site/types.js'

/** The service (not a container) named on the command line, or a usage error naming the known ones. */
export function requireService(ctx: CatalogScope, name: string): ServiceDef {
  const def = ctx.catalog.get(name)
  if (def) return def
  const known = ctx.catalog.services.map((s) => s.name)
  const near = nearestName(name, known)
  throw new OsctlError('USAGE', `unknown service ${name}${near ? ` (did you mean ${near}?)` : ''}`, {location: 'SERVICE', hint: `known services: ${known.join(', ')}`})
}

/**
 * SERVICE on the command line may also name one container of a service, kolla-style
 * (`nova-api` of nova): then only that container changes image in an upgrade.
 */
export function requireServiceOrContainer(ctx: CatalogScope, name: string): {def: ServiceDef; container?: string} {
  const def = ctx.catalog.get(name)
  if (def) return {def}
  const owner = ctx.catalog.services.find((s) => s.containers.some((c) => c.name === name))
  if (owner) return {def: owner, container: name}
  const known = ctx.catalog.services.flatMap((s) => [s.name, ...s.containers.map((c) => c.name)])
  const near = nearestName(name, known)
  throw new OsctlError('USAGE', `unknown service or container ${name}${near ? ` (did you mean ${near}?)` : ''}`, {location: 'SERVICE', hint: `known: ${known.join(', ')}`})
}

/** Hosts within --limit that run the service: its group, or only the group's first host for `hosts: first`. */
export function serviceHosts(ctx: CatalogScope, def: ServiceDef): SiteHost[] {
  const runs = groupHosts(ctx.site, def)
  const selected = runs.filter((h) => ctx.targets.some((t) => t.name === h.name))
  if (selected.length === 0) {
    throw new OsctlError('USAGE', `no selected host runs ${def.name} (group ${def.group.join(', ')}${def.hosts === 'first' ? ', first host only' : ''})`, {
      location: '--limit',
      hint: `${def.name} runs on: ${runs.map((h) => h.name).join(', ') || 'no host'}`,
    })
  }
  return selected
}
