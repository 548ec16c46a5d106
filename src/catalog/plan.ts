import {OsctlError, OsctlErrors, errorMessage} from '../errors.js'
import {nearestName} from '../site/nearest-name.js'
import {knownServices} from '../site/service-catalog.js'
import {manifestUrl} from '../site/image-ref.js'
import {secretValue} from '../site/secret-value.js'
import {servicesOffFor} from '../site/services-off.js'
import type {Site, SiteHost} from '../site/types.js'
import type {Catalog, ServiceDef} from './catalog.js'
import {dependencyClosure} from './dependency-closure.js'
import {groupHosts} from './group-hosts.js'
import {Overrides} from './overrides.js'
import {RenderedService, renderService} from './render.js'

const SYSTEM_SERVICES = ['etcd', 'registry']

/** A database a service needs, with the user and the password (from passwords.yml) that own it. */
export interface DatabaseGrant {
  name: string
  user: string
  password: string
}

export interface PlannedService {
  def: ServiceDef
  /** Hosts of the whole inventory that run it (peers), and those this run works on (--limit). */
  hosts: SiteHost[]
  targets: SiteHost[]
  rendered: Map<string, RenderedService>
  databases: DatabaseGrant[]
}

export interface DeployPlan {
  services: PlannedService[]
  /** Enabled services this run leaves out, and why (no templates yet, system container). */
  skipped: Array<{service: string; reason: string}>
  /** Host running the mariadb container (databases are created there). */
  databaseHost?: SiteHost
  /** Image ref → the registry's manifest digest now (checkImages); a host image carrying it is current. */
  registryDigests?: Map<string, string>
}


/**
 * Everything deploy can know without touching a host, checked up front and reported together:
 * service names, enabled_services and dependencies, passwords, and every template rendered for
 * every target host. Throws OsctlErrors (exit 2); a returned plan renders cleanly everywhere.
 */
export function planDeploy(site: Site, catalog: Catalog, overrides: Overrides, opts: {services?: string[]; targets: SiteHost[]}): DeployPlan {
  const errors: OsctlError[] = []
  const enabled = new Set(site.config.enabledServices)
  const known = catalog.services.map((s) => s.name)
  const skipped: DeployPlan['skipped'] = []
  let selected: ServiceDef[]

  if (opts.services) {
    for (const name of opts.services) {
      if (catalog.get(name)) continue
      if (SYSTEM_SERVICES.includes(name)) errors.push(usage(`${name} is a system container, not a deployable service`, 'system containers are installed by `osctl bootstrap`'))
      else if (knownServices().includes(name)) errors.push(usage(`service ${name} has no definition under templates/ yet`, `deployable services: ${known.join(', ')}`))
      else {
        const guess = nearestName(name, known)
        errors.push(usage(`unknown service ${name}`, `${guess ? `did you mean ${guess}? ` : ''}known services: ${known.join(', ')}`))
      }
    }
    selected = catalog.services.filter((s) => opts.services!.includes(s.name))
    for (const s of selected) {
      if (!enabled.has(s.name)) errors.push(new OsctlError('CONFIG_INVALID', `service ${s.name} is not in enabled_services`, {location: site.files.config, hint: `add ${s.name} to enabled_services in osctl.yml (or omit the key to enable every service)`}))
    }
  } else {
    selected = catalog.services.filter((s) => enabled.has(s.name))
    for (const name of site.config.enabledServices) {
      if (catalog.get(name)) continue
      skipped.push({service: name, reason: SYSTEM_SERVICES.includes(name) ? 'system container (osctl bootstrap)' : 'no definition under templates/ yet'})
    }
  }

  // The site's own line: the enabled_services entry of the service (or the key, or the file).
  const enabledAt = (name: string): string => {
    const i = site.config.enabledServices.indexOf(name)
    return site.locate?.('config', i >= 0 ? ['enabled_services', i] : ['enabled_services'], {key: i < 0}) ?? site.files.config
  }
  const secretUsers = new Map<string, string[]>()
  // nova-libvirt with nova_compute_driver: fake: nothing would use it; nova-compute then needs no hypervisor.
  const off = servicesOffFor(site.config.novaComputeDriver)
  for (const s of selected) {
    if (off.includes(s.name)) {
      errors.push(new OsctlError('CONFIG_INVALID', `service ${s.name} runs only with nova_compute_driver: libvirt (this site says fake)`, {
        location: enabledAt(s.name),
        hint: `remove ${s.name} from enabled_services, or set \`nova_compute_driver: libvirt\` in osctl.yml`,
      }))
    }
    for (const [i, dep] of s.depends.entries()) {
      if (!enabled.has(dep) && !off.includes(dep)) {
        errors.push(new OsctlError('CONFIG_INVALID', `service ${s.name} depends on ${dep}, which is not in enabled_services`, {
          location: enabledAt(s.name),
          hint: `enable ${dep} in osctl.yml (enabled_services), or disable ${s.name}; the dependency is declared at ${s.src.locate(['depends', i])}`,
        }))
      }
    }
    for (const key of new Set([...s.secrets, ...s.databases.map((d) => d.password)])) if (!site.passwords[key]) secretUsers.set(key, [...(secretUsers.get(key) ?? []), s.name])
  }
  // One error per missing key, naming every service that needs it (not one per service).
  for (const [key, users] of secretUsers) {
    errors.push(new OsctlError('CONFIG_INVALID', `password ${key} is missing from passwords.yml (needed by ${users.join(', ')})`, {
      location: site.files.passwords,
      hint: '`osctl genpwd` generates every missing password',
    }))
  }

  const mariadb = catalog.get('mariadb')
  const databaseHost = mariadb ? groupHosts(site, mariadb)[0] : undefined
  const services: PlannedService[] = []
  // Templates are rendered only when names, dependencies and passwords are right: otherwise every
  // missing password would also show up as a template error.
  const renderable = errors.length === 0
  for (const def of selected) {
    const hosts = groupHosts(site, def)
    if (hosts.length === 0) {
      errors.push(new OsctlError('CONFIG_INVALID', `service ${def.name} runs on group ${def.group.join(', ')}, which has no hosts`, {location: site.files.inventory, hint: `add hosts to \`groups: ${def.group[0]}: [...]\` in inventory.yml`}))
      continue
    }
    if (def.databases.length > 0 && !databaseHost) {
      errors.push(def.src.error(`${def.name} needs databases but no host runs mariadb`, 'add templates/mariadb and a control host', ['databases']))
    }
    const targets = hosts.filter((h) => opts.targets.some((t) => t.name === h.name))
    const rendered = new Map<string, RenderedService>()
    if (renderable) {
      const after = dependencyContainers(catalog, def)
      for (const h of targets) {
        try {
          rendered.set(h.name, {...renderService(def, site, h, overrides), after})
        } catch (err) {
          if (!errors.some((e) => e.headline === (err as OsctlError).headline)) errors.push(err instanceof OsctlError ? err : new OsctlError('INTERNAL', errorMessage(err)))
        }
      }
    }
    // Only a plan without errors is returned, and a missing password is an error above: never a default.
    const databases = renderable ? def.databases.map((d) => ({name: d.name, user: d.user, password: secretValue(site.passwords, d.password)})) : []
    services.push({def, hosts, targets, rendered, databases})
  }
  if (errors.length > 0) throw new OsctlErrors(errors)
  return {services, skipped, databaseHost}
}

function usage(message: string, hint: string): OsctlError {
  return new OsctlError('USAGE', message, {location: '--services', hint})
}

/**
 * Asks the site registry (from this machine) whether every image exists, so a missing image is
 * a usage error before any host is touched. A registry this machine cannot reach is not an
 * error here: the hosts may still reach it, and their pull says what is wrong. Resolves to each
 * image ref's manifest digest as the registry has it now (empty when the registry could not be
 * asked): a host whose image of that tag carries the same digest needs no pull (deploy.ts).
 */
/** checkImages, or a stand-in (tests; a cloud upgrade that checked every image once up front). */
export type VerifyImages = (site: Site, plan: DeployPlan) => Promise<Map<string, string> | void>

export async function checkImages(site: Site, plan: DeployPlan, fetchImpl?: typeof fetch): Promise<Map<string, string>> {
  // node:https and TLS load only for commands that ask the registry (not `config validate`).
  fetchImpl ??= (await import('../images/registry-http.js')).registryFetch(site)
  const refs = new Map<string, string>()
  for (const s of plan.services) for (const r of s.rendered.values()) for (const c of r.containers) refs.set(c.image, c.imageRef)
  const http = fetchImpl
  const asked = await Promise.all(
    [...refs].map(async ([image, ref]) => {
      const r = await http(manifestUrl(site, image), {method: 'HEAD', headers: {Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'}, signal: AbortSignal.timeout(5000)})
      return {image, ref, status: r.status, digest: r.headers.get('docker-content-digest') ?? undefined}
    }),
  ).catch(() => undefined)
  if (!asked) return new Map()
  const missing = asked.filter((a) => a.status === 404).map((a) => a.image)
  if (missing.length > 0) {
    throw new OsctlError('IMAGE_UNKNOWN', `image${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (tag ${site.config.imageTag}) not in the site registry ${site.config.registry}`, {
      hint: `build and push them first: \`osctl image build ${missing.join(' ')} --push --site ${site.dir}\``,
    })
  }
  return new Map(asked.flatMap((a) => (a.status === 200 && a.digest?.startsWith('sha256:') ? [[a.ref, a.digest] as const] : [])))
}

/**
 * The containers of every service `def` depends on, directly or through another one, sorted. A
 * host shutting down then stops an API before the database, queue and cache it uses (and before
 * keystone): a request that reached it still finds them, and it is gone (connection refused, so
 * haproxy sends elsewhere at once) before they go.
 */
export function dependencyContainers(catalog: Catalog, def: ServiceDef): string[] {
  const needs = dependencyClosure(Object.fromEntries(catalog.services.map((d) => [d.name, d.depends])))(def.name)
  return [...needs].flatMap((d) => catalog.get(d)?.containers.map((c) => c.name) ?? []).sort()
}
