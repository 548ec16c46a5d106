import {hostname} from 'node:os'
import {posix} from 'node:path'

import {trace} from '../cli/trace.js'
import {configDir} from '../catalog/container-spec.js'
import type {RenderedService, RenderedStep} from '../catalog/render.js'
import type {ContainerClient} from '../docker/docker-client.js'
import type {ImageInfo} from '../docker/types.js'
import {OsctlError, errorMessage} from '../errors.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {FileWrite, Host, tailLines} from '../hosts/host.js'
import {Journal, JournalOp, newOperationId, whoAmI} from '../revisions/journal.js'
import {Ledger, revisionDir, revisionWrites} from '../revisions/ledger.js'
import {missingFingerprints, readFingerprints, runBootstrapStep, stepKey} from './bootstrap-steps.js'
import {runBuiltinStep} from './builtin-steps.js'
import {Balancer, noBalancer} from './balancer.js'
import {PostStepTrigger, runPostSteps} from './post-steps.js'
import {waitContainerHealthy} from './container-health.js'
import type {StepTiming} from './critical-path.js'
import {dropPrevious, keepStandby, nextName, replaceContainer} from './container-swap.js'
import {inOrderBeside} from './in-order-beside.js'
import {ContainerDecision, ServiceDecision, converged, decideService} from './decide.js'
import type {HostState} from './host-state.js'
import {observeService, serviceFromHost} from './observe.js'
import {serviceUnitName, serviceUnitPath} from './service-unit.js'

export interface ContainerOutcome {
  name: string
  /** created: did not exist; recreated: spec changed; started: same spec, was not running; unchanged: left alone. */
  status: 'created' | 'recreated' | 'started' | 'unchanged'
  /** What changed (specDiff), e.g. ['image', 'config:keystone.conf']; ['missing'] when only the container was gone. */
  changed: string[]
  image: string
  health: string
}

export interface ServiceHostResult {
  service: string
  host: string
  status: 'unchanged' | 'changed'
  revision: number
  containers: ContainerOutcome[]
  /** Bootstrap steps that ran on this host in this deploy. */
  bootstrap: string[]
  /** The service's own work on this host, step by step (critical-path.ts): steps run, containers started. */
  timings: StepTiming[]
}

export interface ApplyOptions {
  /** This host runs the service's `once` bootstrap steps (first host of its group). */
  runOnce: boolean
  /** Creates the service's databases; called before any bootstrap step. */
  ensureDatabases?: () => Promise<void>
  /** What the journal calls this change (default deploy). */
  op?: JournalOp
  /** The osctl invocation (newOperationId), recorded in the journal and the revision. */
  operation?: string
  /** The revision number to write if the spec changed (planned once by upgrade); default: the host's next. */
  revision?: number
  /** The database snapshot this change's upgrade took (kept in the journal for an undo). */
  backup?: number
  /** Leave the journal entry after a failure: the caller restores, then ends it (upgrade). */
  keepJournalOnFailure?: boolean
  /**
   * `service upgrade` (osctl.yml rollback_standby): a container whose image alone changed keeps its
   * previous one running this many seconds as a rollback standby (container-swap.ts keepStandby).
   */
  standbySeconds?: number
  /**
   * The host's state read once for the whole command (host-state.ts). A service it shows already
   * converged is left alone on its word; one with any difference is observed again before acting.
   */
  hostState?: Promise<HostState>
  /**
   * Resolves when the service may go on: before each bootstrap step it runs (by name), then
   * before its containers (no name). deploy starts a service once its first step's `needs` are up
   * and waits here for the rest (catalog-schema.ts `needs`); absent: nothing to wait for.
   */
  ready?: (step?: string) => Promise<void>
  /** Waits for `p`, the service's place given back meanwhile (its steps beside the others, waiting for keystone). */
  idle?: <T>(p: Promise<T>) => Promise<T>
}

/**
 * Brings one service to its desired state on one host: pull its images, observe the host, decide
 * (decide.ts: a pure function), act. A container whose spec hash equals its label is neither
 * recreated nor restarted.
 */
export class ServiceDeployer {
  private readonly ledger: Ledger
  private readonly journal: Journal

  constructor(
    private readonly host: Host,
    private readonly docker: ContainerClient,
    private readonly reporter: Reporter = silentReporter,
    /** Where images come from: a deploy's prefetch (image-prefetch.ts), else a pull at the service's turn. */
    private readonly pull: (ref: string) => Promise<ImageInfo> = (ref) => docker.pullImage(ref, {onProgress: (p) => reporter.emit('image.pull.progress', {ref, ...p}, host.name)}),
    /** haproxy drains this host's backend around a swap (internal_vip); see balancer.ts. */
    private readonly balancer: Balancer = noBalancer,
  ) {
    this.ledger = new Ledger(host)
    this.journal = new Journal(host)
  }

  /** What apply would do, without pulling or changing anything (deploy --dry-run). */
  async plan(rs: RenderedService, opts: ApplyOptions): Promise<ServiceDecision> {
    const seen = await observeService(this.host, this.docker, rs)
    return decideService(rs, seen, this.decideOptions(opts))
  }

  async apply(rs: RenderedService, opts: ApplyOptions): Promise<ServiceHostResult> {
    const imageIds = new Map<string, string>()
    for (const ref of new Set(rs.containers.map((c) => c.imageRef))) {
      imageIds.set(ref, (await this.pull(ref)).id)
    }
    trace(`${this.host.name} ${rs.service}: images there`)
    const decideOpts = this.decideOptions(opts)
    const snapshot = opts.hostState && serviceFromHost(await opts.hostState, rs, imageIds)
    // Converged on the state read at the start? Fingerprints (read from the image when not cached)
    // only matter to a service that is converged but for its steps.
    if (snapshot && !snapshot.journal && converged({...decideService(rs, snapshot, decideOpts), steps: []}, snapshot)) {
      await readFingerprints(this.docker, this.ledger, rs, snapshot, opts.runOnce, this.host.name)
      const d = decideService(rs, snapshot, decideOpts)
      if (converged(d, snapshot)) return this.act(rs, d, opts, [])
    }
    // Something to do: decided again on a fresh look, as the host is right before acting.
    const seen = await observeService(this.host, this.docker, rs, imageIds)
    trace(`${this.host.name} ${rs.service}: observed`)
    // A host that never ran this service's fingerprinted steps (no key for any: a first deploy)
    // runs them whatever the fingerprints say. They are read (a one-shot container hashing the
    // image's code, seconds on a busy host) beside the steps, needed only for the keys written after.
    const fingerprinted = rs.steps.filter((s) => (!s.once || opts.runOnce) && s.imagePaths?.length)
    const first = fingerprinted.length > 0 && fingerprinted.every((s) => !seen.bootstrapKeys[s.name]) && !seen.journal
    const reading = readFingerprints(this.docker, this.ledger, rs, seen, opts.runOnce, this.host.name)
    if (!first) await reading
    reading.catch(() => undefined)
    const d = decideService(rs, seen, decideOpts)
    // On a first deploy, the keys the steps leave behind, with the fingerprints read by then.
    const keyOf = first ? async (step: RenderedStep, key: string) => (step.imagePaths?.length ? (await reading, stepKey(step, d.containers.find((c) => c.rc.name === step.container)!.spec, seen.fingerprints)) : key) : undefined
    try {
      return await this.act(rs, d, opts, [...seen.containers].filter(([, c]) => c.spareNext).map(([name]) => name), keyOf)
    } finally {
      await reading.catch(() => undefined)
    }
  }

  /**
   * Whether apply would only health-check this service (converged on the host state read once),
   * judged without pulling: by the image ids the host already has (imageIds, by reference). A
   * reference the host lacks means a pull, so not converged.
   */
  async converged(rs: RenderedService, opts: ApplyOptions, imageIds: ReadonlyMap<string, string>): Promise<boolean> {
    if (!opts.hostState || rs.containers.some((c) => !imageIds.has(c.imageRef))) return false
    const snapshot = serviceFromHost(await opts.hostState, rs, new Map(imageIds))
    // An image never fingerprinted is one a step may need to run for: apply decides.
    if (snapshot.journal || missingFingerprints(rs, snapshot, opts.runOnce).size > 0) return false
    return converged(decideService(rs, snapshot, this.decideOptions(opts)), snapshot)
  }

  private decideOptions(opts: ApplyOptions) {
    return {op: opts.op ?? 'deploy', runOnce: opts.runOnce, revision: opts.revision, operation: opts.operation ?? newOperationId(opts.op ?? 'deploy'), createdBy: `${whoAmI()}@${hostname()}`, now: new Date().toISOString()}
  }

  private async act(rs: RenderedService, d: ServiceDecision, opts: ApplyOptions, spares: string[], keyOf?: (step: RenderedStep, key: string) => Promise<string>): Promise<ServiceHostResult> {
    const where = this.host.name
    if (d.takeOver) await this.takeOver(rs.service, d, spares)
    // Journaled before the first change on this host (the config dir is one).
    if (d.journaled) await this.journal.begin({op: opts.op ?? 'deploy', operation: d.operation, service: rs.service, revision: d.revision, current: d.newRevision ? d.previous : d.revision, backup: opts.backup})
    // Every container's changed config files, then the new revision's files (ledger.ts, its record
    // last), their directories first, in one command (a round trip costs 0.1-1.3 s on a busy
    // host; nova's four containers took ten).
    const configs = d.containers.filter((c) => c.configChanged.length > 0)
    const dirs = configs.length > 0 ? ['/etc/osctl', ...configs.map((c) => configDir(c.rc.name))] : []
    const files: FileWrite[] = configs.flatMap((c) => c.configChanged.map((file) => ({path: posix.join(configDir(c.rc.name), file), data: c.rc.files[file], mode: 0o600})))
    if (d.record) {
      this.reporter.emit('service.revision', {service: rs.service, revision: d.revision, ...(d.previous !== undefined ? {previous: d.previous} : {})}, where)
      const revision = revisionWrites(d.record, Object.fromEntries(d.containers.map((c) => [c.rc.name, c.rc.files])), Object.fromEntries(d.containers.map((c) => [serviceUnitName(c.rc.name), c.unit])))
      dirs.push(...revision.dirs)
      files.push(...revision.files)
    }
    await this.host.writeFiles(files, {dirs})
    trace(`${where} ${rs.service}: journal, config dirs and revision written`)
    const noop = !d.journaled && d.steps.length === 0 && d.containers.every((c) => c.action === 'none')
    try {
      // Nothing runs against the databases when nothing changes (no step, no container started).
      if (!noop) await opts.ensureDatabases?.()
      trace(`${where} ${rs.service}: databases there`)
      const ran: string[] = []
      const timings: StepTiming[] = []
      // Once something of the service failed, no step starts any more (those running finish).
      let aborted = false
      const runStep = async ({step, key}: (typeof d.steps)[number]) => {
        try {
          await opts.ready?.(step.name)
          if (aborted) return
          this.reporter.emit('service.step.start', {service: rs.service, step: step.name, phase: 'bootstrap'}, where)
          const started = Date.now()
          const c = d.containers.find((x) => x.rc.name === step.container)!
          const ms = step.run ? await runBuiltinStep(this.host, c.rc, step, where) : await runBootstrapStep(this.docker, c.spec, step, where)
          timings.push({host: where, service: rs.service, step: step.name, phase: 'bootstrap', ...(step.once ? {once: true} : {}), ms: Math.round(ms)})
          await this.ledger.setBootstrapKey(rs.service, step.name, keyOf ? await keyOf(step, key) : key)
          this.reporter.emit('service.step.done', {service: rs.service, step: step.name, phase: 'bootstrap', seconds: (Date.now() - started) / 1000}, where)
          ran.push(step.name)
        } catch (err) {
          aborted = true
          throw err
        }
      }
      // Steps `beside` the others (keystone registrations) start now, each once what it needs is
      // up; the others run in order. The containers wait for those beside the steps. New containers
      // start without waiting for those beside the containers; anything else (a swap, a start, a
      // unit rewritten, a killed run's leftovers) waits for every step, so a failed one leaves the
      // running containers as they were. Waiting for them, the service gives its place back.
      const settled = (beside: string) => Promise.allSettled(d.steps.filter((s) => s.step.beside === beside).map(runStep))
      const besideSteps = settled('steps')
      const besideContainers = settled('containers')
      const idle = <T>(p: Promise<T>) => (opts.idle ? opts.idle(p) : p)
      const rethrow = (results: PromiseSettledResult<void>[]) => {
        const failed = results.find((r) => r.status === 'rejected')
        if (failed) throw failed.reason
      }
      let result: ServiceHostResult
      try {
        for (const s of d.steps.filter((x) => x.step.beside === undefined)) await runStep(s)
        rethrow(await idle(besideSteps))
        await opts.ready?.()
        const onlyNew = !d.takeOver && d.containers.every((c) => c.action === 'create' || (c.action === 'none' && !c.unitChanged))
        // (A step beside the containers that already failed: none starts.)
        if (!onlyNew || aborted) rethrow(await idle(besideContainers))
        // Units of containers kept (not swapped) that only changed text: all written, one reload. The
        // revision's saved copy too: a restore of this revision (a failed upgrade's, a rollback to it)
        // writes that copy back, and must not undo the change (e.g. the shutdown ordering).
        const units = d.containers.filter((c) => c.unitChanged && (c.action === 'none' || c.action === 'start'))
        if (units.length > 0) {
          await this.host.writeFiles(units.flatMap((c) => [serviceUnitPath(c.rc.name), posix.join(revisionDir(rs.service, d.revision), 'units', serviceUnitName(c.rc.name))].map((path) => ({path, data: c.unit, mode: 0o644}))))
          await this.host.run(['systemctl', 'daemon-reload'])
        }
        // Containers swapped or started go one after another, in the service's order (one in
        // transition at a time; a failure leaves the later ones as they were). New containers replace
        // nothing: they start side by side (nova's four, neutron's three agents), as do the checks of
        // those left alone.
        const inOrder = d.containers.filter((x) => x.action === 'recreate' || x.action === 'start')
        const alongside = d.containers.filter((x) => x.action === 'create' || x.action === 'none')
        const ended = await inOrderBeside(inOrder, alongside, (c) => this.converge(rs.service, c, d.revision, timings, d.takeOver ? 0 : opts.standbySeconds))
        const outcomes = d.containers.map((c) => ended.find((o) => o.name === c.rc.name)!)
        // A killed run's kept previous containers: the change it began is now complete and healthy
        // (no rollback standby then: which revision the kept one is, the killed run decided).
        if (d.takeOver) for (const c of d.containers) await dropPrevious(this.docker, c.rc.name)
        for (const o of outcomes) this.reporter.emit('service.container.done', {service: rs.service, container: o.name, status: o.status, changed: o.changed, revision: d.revision, health: o.health}, where)
        rethrow(await idle(besideContainers))
        const changed = d.newRevision || ran.length > 0 || outcomes.some((o) => o.status !== 'unchanged')
        result = {service: rs.service, host: where, status: changed ? 'changed' : 'unchanged', revision: d.revision, containers: outcomes, bootstrap: ran, timings}
      } catch (err) {
        // Every step that started ends before the failure goes on (none starts any more).
        aborted = true
        await idle(Promise.all([besideSteps, besideContainers]))
        throw err
      }
      if (d.record) await this.ledger.settle([{...d.record, outcome: 'active'}], d.revision)
      if (d.journaled) await this.journal.end(rs.service)
      return result
    } catch (err) {
      if (d.record) await this.ledger.writeRecord({...d.record, outcome: 'failed', error: errorMessage(err)}).catch(() => undefined)
      if (d.journaled && !opts.keepJournalOnFailure) await this.journal.end(rs.service).catch(() => undefined)
      throw err
    }
  }

  /**
   * An entry left by a killed osctl: this change completes it (the containers are converged to
   * what is wanted now, which may reuse what the interrupted run created); its half-done revision
   * is marked interrupted and the spare containers it left go first.
   */
  private async takeOver(service: string, d: ServiceDecision, spares: string[]): Promise<void> {
    const e = d.takeOver!
    this.reporter.emit('service.interrupted', {service, op: e.op, revision: e.revision, action: 'complete', pid: e.pid, machine: e.machine}, this.host.name)
    const half = await this.ledger.read(service, e.revision)
    if (half && half.outcome === 'deploying') await this.ledger.writeRecord({...half, outcome: 'interrupted', error: `osctl (pid ${e.pid} on ${e.machine}) was killed during this change`})
    await this.journal.clear(service)
    for (const name of spares) await this.docker.removeContainer(nextName(name))
  }

  /** /etc/osctl/<container>/: root-only (configs hold passwords); only changed files are written. */
  /** post_deploy steps (post-steps.ts), after the whole deploy converged. */
  async runPostSteps(rs: RenderedService, trigger: PostStepTrigger): Promise<StepTiming[]> {
    return runPostSteps(this.host, this.docker, this.reporter, rs, trigger)
  }

  /** Brings one container to its decision, health-gated; one it started gets its start → healthy time in `timings`. */
  private async converge(service: string, c: ContainerDecision, revision: number, timings: StepTiming[], standbySeconds = 0): Promise<ContainerOutcome> {
    const name = c.rc.name
    const unitName = serviceUnitName(name)
    const recreate = c.action === 'create' || c.action === 'recreate'
    let started: number | undefined
    const swap = async () => {
      this.reporter.emit('service.container.replace', {service, container: name, exists: c.action === 'recreate', changed: c.reasons}, this.host.name)
      // Created while the old one still serves; the swap itself runs on the host (container-swap.ts).
      started = await replaceContainer(this.host, this.docker, c.spec, revision, c.unit)
      return waitContainerHealthy(this.host, this.docker, name, c.rc.health)
    }
    let health
    if (recreate) health = await (c.action === 'recreate' ? this.balancer.around(this.host.name, name, swap) : swap())
    else {
      if (!c.enabled) await this.host.run(['systemctl', 'enable', '--quiet', unitName])
      // The revision that already ran here: one exit may be a passing failure of what it needs, which systemd restarts it from.
      const gate = () => waitContainerHealthy(this.host, this.docker, name, c.rc.health, {restartsAllowed: 2})
      if (c.action === 'start') {
        // Stopped (`service stop`, a crash): back in haproxy only once healthy and warmed, as after a swap.
        health = await this.balancer.around(this.host.name, name, async () => {
          await this.host.exec(['systemctl', 'reset-failed', unitName])
          started = performance.now()
          await this.host.run(['systemctl', 'start', unitName], {timeoutMs: 90_000})
          return gate()
        })
      } else {
        // Left alone and healthy by Docker's run of the same check (or of its monitor, the liveness
        // check a container declares when its gate is too costly to repeat: rabbitmq's cluster check
        // is an Erlang VM start; the gate ran when it was deployed): no probe of our own (a no-op
        // deploy is one host read, not one check per container).
        health = c.dockerHealthy ? {healthy: true, detail: `healthy (Docker's run of its ${c.spec.monitor ? 'monitor' : 'check'})`} : await gate()
      }
    }
    if (started !== undefined && health.healthy) timings.push({host: this.host.name, service, step: name, phase: 'container', ms: Math.round(performance.now() - started)})
    if (!health.healthy) {
      const logs = tailLines(await this.docker.containerLogs(name, 40).catch(() => ''), 20)
      throw new OsctlError('COMMAND_FAILED', `${this.host.name}: ${service} container ${name} (revision ${revision}) is not healthy: ${health.detail}`, {
        details: logs,
        hint: `see \`osctl service logs ${name} --host ${this.host.name}\` and \`journalctl -u ${unitName}\` on ${this.host.name}`,
      })
    }
    if (recreate) {
      const standby = standbySeconds > 0 && c.action === 'recreate' && c.reasons.length === 1 && c.reasons[0] === 'image' ? await keepStandby(this.host, this.docker, name, standbySeconds) : false
      if (standby === true) this.reporter.emit('service.standby', {service, container: name, seconds: standbySeconds}, this.host.name)
      else {
        // Not kept, or keepStandby failed halfway (it may have started it): the previous one goes, as always.
        if (standby !== false) this.reporter.emit('service.standby', {service, container: name, seconds: 0, error: standby}, this.host.name)
        await dropPrevious(this.docker, name)
      }
    }
    const status = c.action === 'create' ? 'created' : c.action === 'recreate' ? 'recreated' : c.action === 'start' ? 'started' : 'unchanged'
    return {name, status, changed: recreate ? c.reasons : [], image: c.spec.image, health: health.detail}
  }
}
