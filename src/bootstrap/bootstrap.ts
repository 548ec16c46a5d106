import {apiTls} from '../certificates/api-tls.js'
import {hostCertDir, registryTls} from '../certificates/registry-tls.js'
import {throwIfInterrupted} from '../cli/interrupt.js'
import {OsctlError, errorData, errorMessage, stringDetails} from '../errors.js'
import {HostResult, fanOut} from '../hosts/fan-out.js'
import {Host} from '../hosts/host.js'
import {Reporter} from '../events/reporters.js'
import {assertSecrets} from '../site/secrets.js'
import {Site, SiteHost} from '../site/types.js'
import {SYSTEM_CONTAINERS} from '../system/definitions.js'
import {ApplyResult, SystemManager} from '../system/manager.js'
import {DockerEngineResult, ensureDockerEngine} from './docker-engine.js'
import {ensureHostPackages} from './host-packages.js'
import {etcdJoiners, joinEtcd} from '../membership/etcd-join.js'
import {PrecheckResult, assertPrechecks, canReach, ownedSystemPorts, runPrechecks} from './prechecks.js'
import {registryBaseUrl, registryFetch} from '../images/registry-http.js'
import {contextFor, deployHost, imageRef, registryHost, registryPort, registrySource, siteSystemContainers, systemContainersFor} from './system-context.js'

export interface LocalImage {
  ref: string
  imageId: string
}

/** What bootstrap needs from the machine running osctl; injected so the flow is testable with fakes. */
export interface BootstrapDeps {
  connect(hosts: SiteHost[]): Host[]
  localImages(names: string[]): Promise<Record<string, LocalImage>>
  publish(local: LocalImage, registryRef: string): Promise<void>
  archive(local: LocalImage): Promise<NodeJS.ReadableStream>
}

export interface HostBootstrap {
  host: string
  ok: boolean
  prechecks: PrecheckResult[]
  packagesInstalled: string[]
  system: ApplyResult[]
  docker?: DockerEngineResult
  /** With `tls: {registry: true}`: whether /etc/docker/certs.d/<registry>/ca.crt was (re)written. */
  registryCa?: {changed: boolean}
  error?: ReturnType<OsctlError['toJSON']>
}

export interface BootstrapResult {
  hosts: HostBootstrap[]
  changed: boolean
}

/**
 * Prechecks and host packages everywhere, then the registry (sent as an OCI archive), then the
 * images pushed into it, then etcd pulled from it, then Docker. A host that fails leaves the phases
 * after; the others go on.
 */
export async function bootstrap(site: Site, targets: SiteHost[], deps: BootstrapDeps, reporter: Reporter): Promise<BootstrapResult> {
  const deploy = deployHost(site)
  // Every secret the system containers get, before any host is touched: none has a built-in default.
  const users: Record<string, string[]> = {}
  for (const d of siteSystemContainers(site)) for (const key of d.secrets) users[key] = [...(users[key] ?? []), d.name]
  assertSecrets(site, users)
  // With tls.registry (tls.internal/external), the certificates must exist (and fit) before any host is touched.
  const tls = registryTls(site)
  apiTls(site)
  const hosts = new Map(deps.connect(targets).map((h) => [h.name, h]))
  const records = new Map<string, HostBootstrap>(targets.map((t) => [t.name, {host: t.name, ok: true, prechecks: [], packagesInstalled: [], system: []}]))
  const concurrency = site.config.sshConcurrency
  const alive = () => targets.filter((t) => records.get(t.name)!.ok)
  const absorb = <T>(results: HostResult<T>[]) => {
    for (const r of results) {
      if (r.ok) continue
      const rec = records.get(r.host)!
      rec.ok = false
      rec.error = r.error?.toJSON()
      reporter.emit('bootstrap.failed', {error: errorData(r.error), detail: stringDetails(r.error)}, r.host)
    }
  }

  try {
    absorb(
      await fanOut(alive(), concurrency, async (t) => {
        const host = hosts.get(t.name)!
        const defs = systemContainersFor(site, t)
        const ports = defs.flatMap((d) => d.ports)
        const checks = await runPrechecks(host, ports, await ownedSystemPorts(host, defs))
        records.get(t.name)!.prechecks = checks
        assertPrechecks(host, checks)
        reporter.emit('bootstrap.prechecks', {checks: checks.map((c) => c.detail)}, t.name)
        const installed = await ensureHostPackages(host)
        records.get(t.name)!.packagesInstalled = installed
        reporter.emit('bootstrap.packages', {installed}, t.name)
      }),
    )

    // Nothing left to bootstrap (every host failed its prechecks), or the registry host failed:
    // building the images locally would only waste minutes.
    if (alive().length === 0) return finish()
    if (records.has(deploy.name) && !records.get(deploy.name)!.ok) return skipAfterRegistry()
    throwIfInterrupted('building the system images (host packages are done)')
    const images = await deps.localImages(siteSystemContainers(site).map((d) => d.image))
    const registryDef = SYSTEM_CONTAINERS.find((d) => d.name === 'registry')!
    if (records.get(deploy.name)?.ok) {
      absorb(
        await fanOut([deploy], 1, async (t) => {
          const mgr = new SystemManager(hosts.get(t.name)!, reporter)
          const local = images[registryDef.image]
          const result = await mgr.apply(registryDef, contextFor(site, t, registryDef), {
            kind: 'archive',
            ref: imageRef(site, registryDef.image),
            imageId: local.imageId,
            archive: () => deps.archive(local),
          })
          records.get(t.name)!.system.push(result)
          reporter.emit('bootstrap.system', {name: 'registry', revision: result.revision, changed: result.status !== 'unchanged'}, t.name)
        }),
      )
    }

    const deployTargeted = records.has(deploy.name)
    if (deployTargeted && !records.get(deploy.name)!.ok) return skipAfterRegistry()
    if (alive().length === 0) return finish()
    if (!deployTargeted && !(await registryAnswers(site))) {
      throw new OsctlError('HOST_UNREACHABLE', `the site registry ${site.config.registry} does not answer, and the deploy host ${deploy.name} is outside --limit`, {
        location: '--limit',
        hint: `Bootstrap ${deploy.name} first (or include it in --limit).`,
      })
    }
    throwIfInterrupted('the system containers after the registry')
    for (const def of siteSystemContainers(site).filter((d) => d !== registryDef)) {
      await deps.publish(images[def.image], imageRef(site, def.image))
    }

    // A control host added to a site whose etcd already runs joins it (member add first).
    const control = site.hosts.filter((h) => h.groups.includes('control'))
    const etcd = await etcdJoiners(control, alive(), (h) => hosts.get(h.name) ?? deps.connect([h])[0])
    absorb(
      await fanOut(alive(), concurrency, async (t) => {
        const host = hosts.get(t.name)!
        if (!(await canReach(host, registryHost(site), registryPort(site)))) {
          throw new OsctlError('HOST_UNREACHABLE', `${t.name} cannot reach the site registry at ${site.config.registry}`, {hint: 'Check routing/firewall between the host and the deploy host.'})
        }
        if (tls) {
          // Docker engines and skopeo on the host trust the site registry through this file.
          const changed = await host.writeFileAtomic(`${hostCertDir(site.config.registry)}/ca.crt`, tls.ca, {mode: 0o644})
          records.get(t.name)!.registryCa = {changed}
        }
        for (const def of systemContainersFor(site, t).filter((d) => d !== registryDef)) {
          const apply = (extra = {}) => new SystemManager(host, reporter).apply(def, {...contextFor(site, t, def), ...extra}, registrySource(site, def.image))
          const joining = def.name === 'etcd' && etcd.via && etcd.joining.has(t.name)
          const result = joining ? await joinEtcd(etcd.via!, host, t, (etcdJoin) => apply({etcdJoin})) : await apply()
          records.get(t.name)!.system.push(result)
          reporter.emit('bootstrap.system', {name: def.name, revision: result.revision, changed: result.status !== 'unchanged'}, t.name)
        }
        const docker = await ensureDockerEngine(host, site.config.registry, {tls: Boolean(tls)})
        records.get(t.name)!.docker = docker
        reporter.emit('bootstrap.docker', {started: docker.started}, t.name)
      }),
    )
  } catch (err) {
    // A failure outside a per-host step (e.g. pushing an image) fails every host still in flight.
    for (const t of alive()) {
      const rec = records.get(t.name)!
      rec.ok = false
      rec.error = (err instanceof OsctlError ? err : new OsctlError('COMMAND_FAILED', errorMessage(err))).toJSON()
    }
    throw err
  }

  return finish()

  /** Without the registry no other host can get its images: say so per host instead of failing later. */
  function skipAfterRegistry(): BootstrapResult {
    for (const t of alive()) {
      const rec = records.get(t.name)!
      rec.ok = false
      rec.error = new OsctlError('COMMAND_FAILED', `${t.name}: skipped, the registry on ${deploy.name} did not come up`, {hint: `Fix ${deploy.name} first (see its error), then bootstrap again.`}).toJSON()
    }
    return finish()
  }

  function finish(): BootstrapResult {
    const all = [...records.values()]
    const changed = all.some((r) => r.packagesInstalled.length > 0 || r.system.some((s) => s.status !== 'unchanged') || r.docker?.started || r.docker?.configChanged || r.registryCa?.changed)
    return {hosts: all, changed}
  }
}

async function registryAnswers(site: Site): Promise<boolean> {
  try {
    const r = await registryFetch(site)(`${registryBaseUrl(site)}/v2/`, {signal: AbortSignal.timeout(5000)})
    return r.status === 200
  } catch {
    return false
  }
}
