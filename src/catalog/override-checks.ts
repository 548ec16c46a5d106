import {basename} from 'node:path'

import {OsctlError} from '../errors.js'
import {nearestName} from '../site/nearest-name.js'
import type {Site} from '../site/types.js'
import type {Catalog} from './catalog.js'
import type {Overrides} from './overrides.js'

/** The config file names a service renders (what overrides/<service>/<file> may name). */
export function renderedFiles(catalog: Catalog, service: string): string[] {
  const def = catalog.get(service)
  if (!def) return []
  return [...new Set(def.containers.flatMap((c) => c.config.map((f) => f.file ?? basename(f.template).replace(/\.njk$/, ''))))]
}

/**
 * Every override must apply to something: a service osctl deploys, a host in the inventory, a
 * file that service renders. Anything else would be silently ignored and the operator would
 * believe it is in effect. Each problem names the file and, where one is close, the right name.
 */
export function checkOverrides(overrides: Overrides, site: Pick<Site, 'hosts'>, catalog: Catalog): OsctlError[] {
  const errors: OsctlError[] = []
  const services = catalog.services.map((s) => s.name)
  const hosts = new Set(site.hosts.map((h) => h.name))
  const refuse = (path: string, message: string, hint: string) => errors.push(new OsctlError('CONFIG_INVALID', message, {location: path, hint}))
  const layout = 'overrides are <service>.conf, <service>/<file> or <service>/<host>/<file>'
  for (const {rel, path} of overrides.entries()) {
    const parts = rel.split('/')
    const service = parts.length === 1 ? parts[0].replace(/\.conf$/, '') : parts[0]
    if (parts.length === 1 && !parts[0].endsWith('.conf')) {
      refuse(path, `overrides/${rel} is not <service>.conf`, layout)
      continue
    }
    if (!catalog.get(service)) {
      const guess = nearestName(service, services)
      refuse(path, `overrides/${rel} is for unknown service ${service}`, guess ? `did you mean ${guess}? (${layout})` : `services: ${services.join(', ')}`)
      continue
    }
    const files = renderedFiles(catalog, service)
    const file = parts.at(-1)!
    if (parts.length === 1) {
      if (!files.includes(file)) refuse(path, `overrides/${rel} would apply to nothing: ${service} renders no ${file}`, `${service} renders ${files.join(', ') || 'no config files'}: use overrides/${service}/<file>`)
      continue
    }
    if (parts.length === 3 && !hosts.has(parts[1])) {
      const guess = nearestName(parts[1], [...hosts].slice(0, 1000))
      refuse(path, `overrides/${rel} is for unknown host ${parts[1]}`, guess ? `did you mean ${guess}?` : 'the directory between the service and the file is a host name from inventory.yml')
      continue
    }
    if (!files.includes(file)) {
      const guess = nearestName(file, files)
      refuse(path, `overrides/${rel} would apply to nothing: ${service} renders no ${file}`, guess ? `did you mean ${guess}?` : `${service} renders ${files.join(', ') || 'no config files'}`)
    }
  }
  return errors
}
