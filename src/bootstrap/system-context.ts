import {OsctlError} from '../errors.js'
import {Site, SiteHost} from '../site/types.js'
import {SYSTEM_CONTAINERS, SystemContainerDef, SystemContext} from '../system/definitions.js'

export function registryPort(site: Site): number {
  const port = Number(site.config.registry.split(':').at(-1))
  return Number.isInteger(port) && port > 0 ? port : 4000
}

export function registryHost(site: Site): string {
  const r = site.config.registry
  return r.slice(0, r.lastIndexOf(':'))
}

/** Which system containers run on a host: by its groups. */
export function systemContainersFor(host: SiteHost): SystemContainerDef[] {
  return SYSTEM_CONTAINERS.filter((d) => host.groups.includes(d.group))
}

export function contextFor(site: Site, host: SiteHost, def: SystemContainerDef): SystemContext {
  // Peers come from the whole inventory, never from --limit: the cluster is the same whatever subset runs.
  const peers = site.hosts.filter((h) => h.groups.includes(def.group)).map((h) => ({name: h.name, address: h.address}))
  return {host: host.name, address: host.address, peers, passwords: site.passwords, registryPort: registryPort(site)}
}

export {siteImageRef as imageRef} from '../site/image-ref.js'

export function requireSystemContainer(name: string): SystemContainerDef {
  const def = SYSTEM_CONTAINERS.find((d) => d.name === name)
  if (!def) {
    throw new OsctlError('USAGE', `unknown system container: ${name}`, {
      location: 'NAME',
      hint: `System containers are: ${SYSTEM_CONTAINERS.map((d) => d.name).join(', ')}.`,
    })
  }
  return def
}

export function deployHost(site: Site): SiteHost {
  const deploy = site.hosts.filter((h) => h.groups.includes('deploy'))
  if (deploy.length !== 1) {
    throw new OsctlError('CONFIG_INVALID', `group deploy must have exactly one host (it runs the image registry); it has ${deploy.length}`, {
      location: site.files.inventory,
      hint: 'Put one host in `groups: deploy: [...]` in inventory.yml.',
    })
  }
  return deploy[0]
}
