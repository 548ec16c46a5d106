import {interruptRequested, throwIfInterrupted} from '../cli/interrupt.js'
import {trace} from '../cli/trace.js'
import {OsctlError, errorData, errorMessage, stringDetails} from '../errors.js'
import type {Reporter} from '../events/reporters.js'
import {HostResult, fanOut} from '../hosts/fan-out.js'
import type {DeployPlan, PlannedService} from '../catalog/plan.js'
import {repositoryOf} from '../site/image-ref.js'
import {lockClaim, takeLock} from '../revisions/host-locks.js'
import {newOperationId} from '../revisions/journal.js'
import type {HostSession} from '../session/host-session.js'
import type {Site, SiteHost} from '../site/types.js'
import {balancerFor} from './balancer.js'
import {containersNeed, startsAfter, waitsFor} from '../catalog/catalog-schema.js'
import {dependencyClosure} from '../catalog/dependency-closure.js'
import {criticalPath} from './critical-path.js'
import {desiredSpec} from '../catalog/container-spec.js'
import {dockerWordFresh} from './decide.js'
import {ensureDatabases} from './databases.js'
import {prepareGalera} from './galera.js'
import {observeHost} from './host-state.js'
import {postStepTrigger} from './post-steps.js'
import {GraphRun, runGraph} from './run-graph.js'
import {ImagePrefetch} from './image-prefetch.js'
import {pullRanks} from './pull-priority.js'
import {workAhead} from './work-ahead.js'
import {PullQueue} from './pull-queue.js'
import {ApplyOptions, ServiceDeployer, ServiceHostResult} from './service-deployer.js'

/** Services deployed at the same time (each over its own SSH channels; sshd allows 10 sessions per connection). */
const SERVICES_AT_ONCE = 3

export interface DeployHostSummary {
  host: string
  ok: boolean
  error?: ReturnType<OsctlError['toJSON']>
}

export interface DeployResult {
  services: ServiceHostResult[]
  hosts: DeployHostSummary[]
  skipped: DeployPlan['skipped']
  /** Containers (re)created or started in this run; 0 on a deploy with nothing to do. */
  recreated: number
  changed: boolean
  /**
   * The floor: the longest chain of the services' own work (services[].timings) along their
   * dependencies, which no orchestrator could beat (critical-path.ts); 0 when nothing ran.
   */
  criticalPathMs: number
}

export type DeployChange = Pick<ApplyOptions, 'op' | 'operation' | 'backup' | 'keepJournalOnFailure' | 'standbySeconds'> & {
  /** Per host: the revision number a changed service writes (planned once by upgrade). */
  revisions?: Map<string, number>
}

/**
 * Services in dependency order; for each, its target hosts in parallel (bounded by ssh_concurrency).
 * A service with run-once bootstrap steps deploys on its first host before the others, so schema
 * migrations finish before any other host starts the new code. A host that fails is left out of
 * every later service; the other hosts carry on.
 */
export async function deploy(site: Site, plan: DeployPlan, targets: SiteHost[], session: HostSession, reporter: Reporter, change: DeployChange = {}): Promise<DeployResult> {
  const prefetch = new Map<string, ImagePrefetch>()
  const balancer = balancerFor(site, session, reporter)
  const deployer = (t: SiteHost) => {
    const images = prefetch.get(t.name)
    return new ServiceDeployer(session.host(t), session.docker(t), reporter, images && ((ref) => images.pull(ref)), balancer)
  }
  const operation = change.operation ?? newOperationId(change.op ?? 'deploy')
  const order = new Map(plan.services.map((ps, i) => [ps.def.name, i]))
  const failed = new Map<string, OsctlError>()
  // Services only health-checked on every host (deployServices): they wait for nothing.
  let checkOnly = new Set<string>()
  // What each service waits for (catalog-schema.ts waitsFor: nova's not glance): what a started
  // service needs finished, what a failure on its host stops it for, and the critical path's graph.
  const depends = Object.fromEntries(plan.services.map((ps) => [ps.def.name, waitsFor(ps.def)]))
  const closure = dependencyClosure(depends)
  // What services that started wait for: these start even after a signal (deployService).
  const required = new Set<string>()
  const results: ServiceHostResult[] = []
  // A failed host is left out of every later service: its queued downloads would only delay the other hosts'.
  // Per failed host, the service it failed in (none: before any service, e.g. its lock).
  const failedIn = new Map<string, string | undefined>()
  const leaveOut = (host: string, e: OsctlError, service?: string) => {
    // The first failure is the one to report: a later one only follows from it.
    if (!failed.has(host)) {
      failed.set(host, e)
      failedIn.set(host, service)
    }
    prefetch.get(host)?.cancel(new OsctlError('COMMAND_FAILED', `pull dropped: ${host} is out of this deploy (${e.message})`))
  }
  const absorb = (rs: HostResult<ServiceHostResult>[], service?: string) => {
    for (const r of rs) {
      if (r.ok) results.push(r.value!)
      else {
        leaveOut(r.host, r.error!, service)
        reporter.emit('service.failed', {error: errorData(r.error), detail: stringDetails(r.error)}, r.host)
      }
    }
  }

  for (const s of plan.skipped) reporter.emit('service.skipped', s)
  // Each host's state of all its services, read once (host-state.ts), by the same exec that creates
  // the host's pull lock: one round trip per host. Held until the end: an image pulled here must not
  // be pruned before a container or the ledger names it.
  const command = change.op === 'upgrade' ? 'upgrade' : 'deploy'
  const claim = lockClaim('pull', command)
  const states = new Map(targets.map((t) => [t.name, observeHost(session.host(t), session.docker(t), plan.services.flatMap((ps) => ps.rendered.get(t.name) ?? []), {lock: claim})]))
  for (const p of states.values()) p.catch(() => undefined)
  const locks = await fanOut(targets, site.config.sshConcurrency, (t) => takeLock(session.host(t), 'pull', command, {claim, result: states.get(t.name)!.then((s) => s.lock)}))
  trace('host pull locks taken')
  // The same read found the drain markers of the haproxy hosts: a backend an osctl killed mid-drain left is set ready.
  const observed = await Promise.all(targets.map((t) => states.get(t.name)!.then((s) => (s.lock ? [{lb: session.host(t), files: s.lock.dir}] : []), () => [])))
  await balancer.recover(observed.flat(), async (server, container) => (await states.get(server))?.containers.get(container)?.state === 'running')
  absorb(locks.filter((l) => !l.ok) as Array<HostResult<never>>)
  // Downloads of images a host lacks share one queue across the hosts (image_pull_concurrency), the
  // deploy's earliest services first (pull-priority.ts); it opens once every host queued its own.
  let listed = () => {}
  const queue = new PullQueue(site.config.imagePullConcurrency, new Promise<void>((resolve) => (listed = resolve)))
  // How much work each service has ahead (work-ahead.ts): the pull queue's order and deploy's slots.
  const ahead = workAhead(plan.services.map((ps) => ps.def))
  const ranks = pullRanks(plan, ahead)
  const imageIds = new Map<string, Promise<Map<string, string>>>()
  for (const t of targets.filter((x) => !failed.has(x.name))) {
    const refs = plan.services.flatMap((ps) => ps.rendered.get(t.name)?.containers.map((c) => c.imageRef) ?? [])
    const images = session.docker(t).listImages({})
    const ids = images.then((list) => new Map(list.flatMap((i) => i.tags.map((tag) => [tag, i.id] as const))))
    imageIds.set(t.name, ids)
    const present = ids.then((m) => new Set(m.keys()))
    const rank = ranks.get(t.name)
    // A tag the host has whose manifest digest is the registry's now (plan.registryDigests) is used as it is: no pull to ask again.
    const current = async (ref: string) => {
      const digest = plan.registryDigests?.get(ref)
      return digest === undefined ? undefined : (await images).find((i) => i.tags.includes(ref) && (i.digests ?? []).includes(`${repositoryOf(ref)}@${digest}`))
    }
    prefetch.set(t.name, new ImagePrefetch(session.docker(t), refs, reporter, t.name, present, {queue, rank: (ref) => rank?.get(ref) ?? [Infinity], current}))
  }
  void Promise.all([...prefetch.values()].map((p) => p.listed)).then(listed)
  try {
    await deployServices()
    // A host left out after a failure may still be pulling: the command ends after its pulls.
    await Promise.all([...prefetch.values()].map((p) => p.settled()))
  } finally {
    trace('services done')
    await Promise.allSettled(locks.filter((l) => l.ok).map((l) => l.value!()))
    trace('host pull locks released')
  }

  const summaries = targets.map((t): DeployHostSummary => (failed.has(t.name) ? {host: t.name, ok: false, error: failed.get(t.name)!.toJSON()} : {host: t.name, ok: true}))
  const recreated = results.flatMap((r) => r.containers).filter((c) => c.status !== 'unchanged').length
  const needs = Object.fromEntries(plan.services.map((ps) => [ps.def.name, {steps: Object.fromEntries(ps.def.bootstrap.flatMap((b) => (b.needs ? [[b.name, b.needs]] : []))), containers: ps.def.containers_need, beside: Object.fromEntries(ps.def.bootstrap.flatMap((b) => (b.beside ? [[b.name, b.beside]] : [])))}]))
  const criticalPathMs = criticalPath(results.flatMap((r) => r.timings), depends, needs)
  return {services: results, hosts: summaries, skipped: plan.skipped, recreated, changed: results.some((r) => r.status === 'changed'), criticalPathMs}

  async function deployServices(): Promise<void> {
    // Each service starts once what its first bootstrap step needs ended on all its hosts (nova's
    // db sync: mariadb), else once all its dependencies did (mariadb, memcached and rabbitmq
    // together; glance beside placement), a few at a time; it waits for the rest halfway (ready).
    // A service that is converged on every host, like everything it depends on, is only
    // health-checked: at once, with no slot.
    checkOnly = await convergedServices()
    trace('converged services known')
    const key = (ps: PlannedService) => ps.def.name
    // A free slot goes to the ready service with the longest chain of work ahead (work-ahead.ts),
    // once its images are on the host it starts on (not holding a slot while they download).
    // A signal (for a service nothing started waits for) or a dependency down everywhere ends the
    // wait at once: deployService then stops or skips the service without its images.
    const goesNowhere = (ps: PlannedService) => (interruptRequested() !== undefined && !required.has(ps.def.name)) || downOf(startsAfter(ps.def)).length > 0
    const imagesThere = async (ps: PlannedService) => {
      const t = ps.targets.find((x) => !failed.has(x.name))
      if (!t || goesNowhere(ps)) return
      const images = Promise.all([...new Set(ps.rendered.get(t.name)?.containers.map((c) => c.imageRef) ?? [])].map((ref) => prefetch.get(t.name)?.wait(ref)))
      let poll: NodeJS.Timeout | undefined
      try {
        await Promise.race([images, new Promise<void>((resolve) => (poll = setInterval(() => goesNowhere(ps) && resolve(), 250)))])
      } finally {
        clearInterval(poll)
      }
    }
    await runGraph(plan.services, key, (ps) => (checkOnly.has(key(ps)) ? [] : startsAfter(ps.def)), SERVICES_AT_ONCE, deployService, {light: (ps) => checkOnly.has(key(ps)), priority: (ps) => ahead.get(key(ps)) ?? 0, before: imagesThere})
    results.sort((a, b) => order.get(a.service)! - order.get(b.service)!)
    await runPostDeploySteps(plan, results, failed, deployer, reporter)
  }

  function applyOptions(ps: PlannedService, t: SiteHost): ApplyOptions {
    return {
      runOnce: t.name === ps.hosts[0].name,
      op: change.op,
      operation,
      revision: change.revisions?.get(t.name),
      keepJournalOnFailure: change.keepJournalOnFailure,
      standbySeconds: change.standbySeconds,
      hostState: states.get(t.name),
      // The snapshot is about the migration, which runs on the first host.
      backup: t.name === ps.hosts[0].name ? change.backup : undefined,
    }
  }

  /** The services apply would only health-check on every host, and all they depend on with them (judged on the state read once). */
  async function convergedServices(): Promise<Set<string>> {
    const each = await Promise.all(
      plan.services.map(async (ps) => {
        const alive = ps.targets.filter((t) => !failed.has(t.name))
        // Any doubt (a host not read) is not converged: apply then looks for itself, in order.
        const judge = async (t: SiteHost) => deployer(t).converged(ps.rendered.get(t.name)!, applyOptions(ps, t), await imageIds.get(t.name)!)
        const all = await Promise.all(alive.map((t) => judge(t).catch(() => false)))
        return alive.length > 0 && all.every(Boolean)
      }),
    )
    const out = new Set<string>()
    // plan.services come in dependency order: a dependency is judged before its dependents.
    for (const [i, ps] of plan.services.entries()) {
      if (each[i] && ps.def.depends.every((d) => out.has(d) || !plan.services.some((x) => x.def.name === d))) out.add(ps.def.name)
    }
    return out
  }

  /**
   * Docker called each of the service's containers healthy on every one of these hosts when their
   * state was read, and that word is no staler than with the default check timing (decide.ts).
   */
  async function everyHealthy(hosts: SiteHost[], ps: PlannedService): Promise<boolean> {
    const seen = await Promise.all(hosts.map((t) => states.get(t.name)?.catch(() => undefined)))
    return seen.every((st, i) => st !== undefined && ps.rendered.get(hosts[i].name)!.containers.every((c) => dockerWordFresh(desiredSpec(c, '')) && st.containers.get(c.name)?.health === 'healthy'))
  }

  /**
   * Dependencies deployed in this run that ended without converging on any of their hosts: they
   * serve nobody. (A host that failed later, in another service, still runs what converged there.)
   */
  function downOf(services: string[]): string[] {
    return services.filter((dep) => {
      const d = plan.services.find((x) => x.def.name === dep)
      return d !== undefined && d.targets.length > 0 && !results.some((r) => r.service === dep)
    })
  }

  function notDeployed(ps: PlannedService, down: string[]): OsctlError {
    return new OsctlError('COMMAND_FAILED', `${ps.def.name} was not deployed: ${down.join(', ')} failed on every host that runs it`, {hint: `fix ${down.join(', ')} first (see its error), then deploy again`})
  }

  async function deployService(ps: PlannedService, g: GraphRun): Promise<void> {
    // After a signal nothing new starts, but for what a started service still waits for.
    if (!required.has(ps.def.name)) throwIfInterrupted(`deploying ${ps.def.name}${results.length ? ` (done: ${[...new Set(results.map((r) => r.service))].join(', ')})` : ''}`)
    const alive = ps.targets.filter((t) => !failed.has(t.name))
    if (alive.length === 0) return
    for (const d of closure(ps.def.name)) required.add(d)
    // A dependency that failed everywhere: its dependents are skipped (with why) instead of
    // failing one health timeout at a time.
    const skip = (down: string[]) => reporter.emit('service.skipped', {service: ps.def.name, reason: `${down.join(', ')} failed on every host that runs it`})
    // (A service only checked started beside its dependencies: nothing to judge them by yet.)
    const down = checkOnly.has(ps.def.name) ? [] : downOf(startsAfter(ps.def))
    if (down.length > 0) {
      // Its other dependencies still deploying finish first: their hosts are left out only then.
      await g.after(ps.def.depends).catch(() => undefined)
      for (const t of ps.targets.filter((x) => !failed.has(x.name))) leaveOut(t.name, notDeployed(ps, down), ps.def.name)
      skip(down)
      return
    }
    // The rest of what a step or the containers need (ps.def.depends) may still be deploying:
    // waited for here, the slot given back meanwhile. A dependency that failed everywhere, or
    // failed on this host (or the host before any service), stops the service there; a failure of
    // an unrelated service on the host does not, nor does a signal (a service that started
    // finishes: its journal and ledger record are one change).
    let skipped = false
    // A step beside the others that waits gives the service's place back like any waiting step,
    // its other steps going on meanwhile (keeping it delayed nova's db sync 10-18 s behind
    // rabbitmq's and placement's places: bench in the README); the service gives it back too
    // while it only waits for such a step (idle).
    const ready = (t: SiteHost) => async (step?: string) => {
      const needs = step === undefined ? containersNeed(ps.def) : (ps.def.bootstrap.find((b) => b.name === step)?.needs ?? ps.def.depends)
      await g.after(needs)
      const gone = downOf(needs)
      if (gone.length > 0) {
        if (!skipped) skip(gone)
        skipped = true
        throw notDeployed(ps, gone)
      }
      const earlier = failed.get(t.name)
      const by = failedIn.get(t.name)
      if (earlier && (by === undefined || closure(ps.def.name).has(by))) throw new OsctlError('COMMAND_FAILED', `${ps.def.name} was stopped on ${t.name}: ${by ? `${by}, which it needs, failed there` : 'the host failed'} in this deploy (${earlier.message})`)
    }
    // The databases live in mariadb: created once it is up, each service's just before its steps
    // (its users' passwords reset then, not long before its containers get the new config).
    const ensureDb = once(async () => {
      if (ps.databases.length === 0 || !plan.databaseHost) return
      await g.after(['mariadb'])
      await ensureDatabases(session.docker(plan.databaseHost), 'mariadb', ps.databases, plan.databaseHost.name)
    })
    const apply = (t: SiteHost) => deployer(t).apply(ps.rendered.get(t.name)!, {...applyOptions(ps, t), ensureDatabases: ensureDb, ...(checkOnly.has(ps.def.name) ? {} : {ready: ready(t), idle: g.idle})})
    if (ps.def.cluster) return absorb(await deployClusteredService(ps, alive, session, failed, apply, checkOnly.has(ps.def.name) && (await everyHealthy(alive, ps))), ps.def.name)
    const first = ps.hosts[0]
    const sequentialFirst = ps.def.bootstrap.some((b) => b.once) && alive.some((t) => t.name === first.name)
    if (sequentialFirst) absorb(await fanOut(alive.filter((t) => t.name === first.name), 1, apply), ps.def.name)
    const rest = alive.filter((t) => !(sequentialFirst && t.name === first.name) && !failed.has(t.name))
    // Its migrations did not complete there (the host may also have failed in another service meanwhile, after them).
    if (sequentialFirst && !results.some((r) => r.service === ps.def.name && r.host === first.name)) {
      for (const t of rest) leaveOut(t.name, skippedBecause(ps, first.name), ps.def.name)
      return
    }
    absorb(await fanOut(rest, site.config.sshConcurrency, apply), ps.def.name)
  }
}

/**
 * A clustered service (catalog-schema.ts `cluster`): one host at a time in inventory order, each
 * health-gated before the next; the first failure leaves the later hosts as they were. Galera on
 * several hosts first learns whether a cluster runs (galera.ts) and starts one if none ever did.
 */
async function deployClusteredService(ps: PlannedService, alive: SiteHost[], session: HostSession, failed: Map<string, OsctlError>, apply: (t: SiteHost) => Promise<ServiceHostResult>, converged: boolean): Promise<HostResult<ServiceHostResult>[]> {
  const out: HostResult<ServiceHostResult>[] = []
  let after = async () => {}
  // Converged on every host and Docker calling each node healthy (its check: Synced in a Primary
  // component): apply only checks them, so whether and where a cluster would start does not
  // matter. Asking every node (the mariadb client in each) was the slowest part of an HA no-op
  // (0.8 s). A node that runs without being healthy (every node down: mariadb recover) is asked.
  if (ps.def.cluster === 'galera' && ps.hosts.length > 1 && !converged) {
    try {
      after = (await prepareGalera(ps.hosts.map((h) => session.host(h)), alive.map((t) => t.name))).after
    } catch (err) {
      const e = err instanceof OsctlError ? err : new OsctlError('COMMAND_FAILED', errorMessage(err), {cause: err})
      return alive.map((t) => ({host: t.name, ok: false, error: e, durationMs: 0}))
    }
  }
  for (const t of alive) {
    const [r] = await fanOut([t], 1, apply).finally(after)
    after = async () => {}
    out.push(r)
    if (!r.ok) {
      const rest = alive.slice(alive.indexOf(t) + 1).filter((x) => !failed.has(x.name))
      for (const x of rest) out.push({host: x.name, ok: false, error: new OsctlError('COMMAND_FAILED', `${ps.def.name} was not changed on ${x.name}: ${t.name} failed before it (a cluster changes one host at a time)`, {hint: `fix ${t.name} (see its error), then deploy again`}), durationMs: 0})
      break
    }
  }
  return out
}

/**
 * post_deploy steps of each service, on its first host, in dependency order, once every service
 * converged. A host whose step fails is reported failed like any other deploy failure.
 */
async function runPostDeploySteps(plan: DeployPlan, results: ServiceHostResult[], failed: Map<string, OsctlError>, deployer: (h: SiteHost) => ServiceDeployer, reporter: Reporter): Promise<void> {
  const trigger = postStepTrigger(results)
  for (const ps of plan.services) {
    const first = ps.hosts[0]
    const rendered = ps.rendered.get(first.name)
    if (!rendered?.postSteps?.length || failed.has(first.name)) continue
    try {
      const ran = await deployer(first).runPostSteps(rendered, trigger)
      const result = results.find((r) => r.service === ps.def.name && r.host === first.name)
      if (result && ran.length > 0) Object.assign(result, {status: 'changed', bootstrap: [...result.bootstrap, ...ran.map((t) => t.step)], timings: [...result.timings, ...ran]})
    } catch (err) {
      const e = err instanceof OsctlError ? err : new OsctlError('COMMAND_FAILED', errorMessage(err), {cause: err})
      failed.set(first.name, e)
      reporter.emit('service.failed', {service: ps.def.name, error: errorData(e), detail: stringDetails(e)}, first.name)
    }
  }
}

function skippedBecause(ps: PlannedService, first: string): OsctlError {
  return new OsctlError('COMMAND_FAILED', `${ps.def.name} was not deployed: its first host ${first} failed its bootstrap`, {hint: `fix ${first} (see its error), then deploy again`})
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= fn().catch((err) => {
    p = undefined
    throw err instanceof OsctlError ? err : new OsctlError('COMMAND_FAILED', errorMessage(err), {cause: err})
  }))
}

