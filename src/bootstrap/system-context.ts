import {apiTls} from '../certificates/api-tls.js'
import {hostCertDir, registryTls} from '../certificates/registry-tls.js'
import {OsctlError} from '../errors.js'
import {apiEndpoints} from '../site/endpoints.js'
import {siteImageRef} from '../site/image-ref.js'
import type {ImageSource} from '../system/bundle.js'
import {Site, SiteHost} from '../site/types.js'
import {LoadBalancerContext, SYSTEM_CONTAINERS, SystemContainerDef, SystemContext} from '../system/definitions.js'
import {API_FRONTENDS} from '../system/load-balancer.js'

export function registryPort(site: Site): number {
  const port = Number(site.config.registry.split(':').at(-1))
  return Number.isInteger(port) && port > 0 ? port : 4000
}

export function registryHost(site: Site): string {
  const r = site.config.registry
  return r.slice(0, r.lastIndexOf(':'))
}

/** The system containers this site runs (haproxy and keepalived only with internal_vip). */
export function siteSystemContainers(site: Site): SystemContainerDef[] {
  return SYSTEM_CONTAINERS.filter((d) => d.enabled?.(site.config) ?? true)
}

/** Which system containers run on a host: by its groups. */
export function systemContainersFor(site: Site, host: SiteHost): SystemContainerDef[] {
  return siteSystemContainers(site).filter((d) => host.groups.includes(d.group))
}

/** haproxy's frontends: each API the site enables, served by every host of the control group. */
function loadBalancer(site: Site): LoadBalancerContext | undefined {
  if (!site.config.internalVip) return undefined
  const control = site.hosts.filter((h) => h.groups.includes('control')).map((h) => ({name: h.name, address: h.address}))
  const frontends = API_FRONTENDS.filter((f) => site.config.enabledServices.includes(f.service)).map(({service: _s, container: _c, ...f}) => ({...f, backends: control}))
  const e = apiEndpoints(site)
  const tls = apiTls(site)
  return {
    vip: site.config.internalVip,
    ...(site.config.externalVip ? {externalVip: site.config.externalVip} : {}),
    ...(tls ? {tls: {pem: tls.pem, internal: e.internalTls, external: e.externalTls}} : {}),
    interface: site.config.apiInterface,
    virtualRouterId: site.config.keepalivedVirtualRouterId,
    frontends,
  }
}

export function contextFor(site: Site, host: SiteHost, def: SystemContainerDef): SystemContext {
  // Peers come from the whole inventory, never from --limit: the cluster is the same whatever subset runs.
  const peers = site.hosts.filter((h) => h.groups.includes(def.group)).map((h) => ({name: h.name, address: h.address}))
  const lb = loadBalancer(site)
  const tls = def.name === 'registry' ? registryTls(site) : undefined
  return {host: host.name, address: host.address, peers, passwords: site.passwords, registryPort: registryPort(site), ...(lb ? {lb} : {}), ...(tls ? {registryTls: tls} : {})}
}

/** A site image a host pulls from the site registry: verified with the site CA when it speaks TLS. */
export function registrySource(site: Site, name: string, tag?: string): ImageSource {
  const ref = siteImageRef(site, name, tag)
  return site.config.tls?.registry ? {kind: 'registry', ref, certDir: hostCertDir(site.config.registry)} : {kind: 'registry', ref}
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
