import {hostname} from 'node:os'
import {posix} from 'node:path'

import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'
import {Host, tailLines} from '../hosts/host.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {runBootstrapStep, stepKey} from './bootstrap-steps.js'
import {waitContainerHealthy} from './container-health.js'
import {ContainerSpec, LABELS, configDir, desiredSpec, specDiff, specHash} from '../catalog/container-spec.js'
import {dropPrevious, nextName, replaceContainer} from './container-swap.js'
import {Journal, JournalOp, busy, describeEntry, newOperationId, whoAmI as userName} from '../revisions/journal.js'
import {Ledger, RevisionContainer, RevisionRecord} from '../revisions/ledger.js'
import {RenderedContainer, RenderedService} from '../catalog/render.js'
import {renderServiceUnit, serviceUnitName, serviceUnitPath} from './service-unit.js'

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
  /** The database snapshot this change's upgrade took (kept in the journal for an undo). */
  backup?: number
  /** Leave the journal entry after a failure: the caller restores, then ends it (upgrade). */
  keepJournalOnFailure?: boolean
}

interface Desired {
  rc: RenderedContainer
  spec: ContainerSpec
  hash: string
  /** Container as the engine has it now. */
  actualHash?: string
  running: boolean
  exists: boolean
}

/**
 * Brings one service to its desired state on one host: config dirs, image, databases, bootstrap
 * steps, containers with their systemd units, health gate, ledger. A container whose spec hash
 * equals its label is neither recreated nor restarted.
 */
export class ServiceDeployer {
  private readonly ledger: Ledger

  constructor(
    private readonly host: Host,
    private readonly docker: ContainerClient,
    private readonly reporter: Reporter = silentReporter,
  ) {
    this.ledger = new Ledger(host)
    this.journal = new Journal(host)
  }

  private readonly journal: Journal

  async apply(rs: RenderedService, opts: ApplyOptions): Promise<ServiceHostResult> {
    const op = opts.op ?? 'deploy'
    // Spare containers a killed run may have left (container-swap.ts) go first.
    if (await this.takeOverInterrupted(rs.service, op)) for (const rc of rs.containers) await this.docker.removeContainer(nextName(rc.name))
    const record = await this.ledger.current(rs.service)
    const desired: Desired[] = []
    for (const rc of rs.containers) {
      const image = await this.docker.pullImage(rc.imageRef, {onProgress: (p) => this.reporter.emit('image.pull.progress', {ref: rc.imageRef, ...p}, this.host.name)})
      const spec = desiredSpec(rc, image.id)
      const actual = await this.docker.inspectContainer(rc.name)
      desired.push({rc, spec, hash: specHash(spec), actualHash: actual?.labels[LABELS.hash], running: actual?.state === 'running', exists: actual !== undefined})
    }
    const recorded = new Map((record?.containers ?? []).map((c) => [c.name, c]))
    const specChanged = !record || record.outcome !== 'active' || desired.some((d) => recorded.get(d.rc.name)?.hash !== d.hash) || recorded.size !== desired.length
    const revision = specChanged ? await this.ledger.nextNumber(rs.service) : record!.revision
    const units = Object.fromEntries(desired.map((d) => [serviceUnitName(d.rc.name), renderServiceUnit({service: rs.service, container: d.rc.name, revision})]))

    const journaled = specChanged || desired.some((d) => !d.exists || !d.running || d.actualHash !== d.hash)
    // Journaled before the first change on this host (the config dir is one).
    const operation = opts.operation ?? newOperationId(op)
    if (journaled) await this.journal.begin({op, operation, service: rs.service, revision, current: record?.revision, backup: opts.backup})
    for (const d of desired) await this.writeConfigDir(d.rc)
    const newRecord: RevisionRecord = {
      format: 1,
      service: rs.service,
      host: this.host.name,
      revision,
      ...(record && specChanged ? {previous: record.revision} : {}),
      createdAt: specChanged ? new Date().toISOString() : record!.createdAt,
      createdBy: specChanged ? whoAmI() : record!.createdBy,
      outcome: 'deploying',
      ...(specChanged ? {operation} : record?.operation ? {operation: record.operation} : {}),
      containers: desired.map((d): RevisionContainer => ({
        name: d.rc.name,
        image: d.spec.image,
        imageId: d.spec.imageId,
        spec: d.spec,
        hash: d.hash,
        unitName: serviceUnitName(d.rc.name),
        changed: recorded.get(d.rc.name)?.hash === d.hash ? [] : specDiff(recorded.get(d.rc.name)?.spec, d.spec),
      })),
    }
    if (specChanged) {
      this.reporter.emit('service.revision', {service: rs.service, revision, ...(record ? {previous: record.revision} : {})}, this.host.name)
      await this.ledger.write(newRecord, Object.fromEntries(desired.map((d) => [d.rc.name, d.rc.files])), units)
    }

    try {
      await opts.ensureDatabases?.()
      const ran = await this.runSteps(rs, desired, opts.runOnce)
      const outcomes: ContainerOutcome[] = []
      for (const d of desired) outcomes.push(await this.converge(rs.service, d, revision, units[serviceUnitName(d.rc.name)], recorded.get(d.rc.name)?.spec))
      for (const o of outcomes) this.reporter.emit('service.container.done', {service: rs.service, container: o.name, status: o.status, changed: o.changed, revision, health: o.health}, this.host.name)
      const changed = specChanged || ran.length > 0 || outcomes.some((o) => o.status !== 'unchanged')
      if (specChanged) {
        await this.ledger.writeRecord({...newRecord, outcome: 'active'})
        await this.ledger.setCurrent(rs.service, revision)
      }
      if (journaled) await this.journal.end(rs.service)
      return {service: rs.service, host: this.host.name, status: changed ? 'changed' : 'unchanged', revision, containers: outcomes, bootstrap: ran}
    } catch (err) {
      if (specChanged) await this.ledger.writeRecord({...newRecord, outcome: 'failed', error: errorMessage(err)}).catch(() => undefined)
      if (journaled && !opts.keepJournalOnFailure) await this.journal.end(rs.service).catch(() => undefined)
      throw err
    }
  }

  /**
   * An entry left by a killed osctl: a deploy or an upgrade completes it (the containers are
   * converged to what is wanted now, which may reuse what the interrupted run already created) and
   * its half-done revision is marked interrupted. A plain deploy does not complete someone's
   * upgrade or rollback: that would silently pick a side.
   */
  private async takeOverInterrupted(service: string, op: JournalOp): Promise<boolean> {
    const found = await this.journal.read(service)
    if (!found || found.state === 'mine') return false
    if (found.state === 'running') throw busy(this.host.name, found.entry)
    const e = found.entry
    if (op === 'deploy' && e.op !== 'deploy') {
      throw new OsctlError('USAGE', `${this.host.name}: an interrupted ${describeEntry(e)} is unfinished; deploy will not pick a side`, {
        hint: `Complete it with \`osctl service ${e.op} ${service}${e.op === 'upgrade' ? ' --tag …' : ''}\` or undo it with \`osctl service rollback ${service}\`, then deploy.`,
      })
    }
    this.reporter.emit('service.interrupted', {service, op: e.op, revision: e.revision, action: 'complete', pid: e.pid, machine: e.machine}, this.host.name)
    const half = await this.ledger.read(service, e.revision)
    if (half && half.outcome === 'deploying') await this.ledger.writeRecord({...half, outcome: 'interrupted', error: `osctl (pid ${e.pid} on ${e.machine}) was killed during this change`})
    await this.journal.clear(service)
    return true
  }

  /** /etc/osctl/<container>/: root-only (configs hold passwords); only changed files are written. */
  private async writeConfigDir(rc: RenderedContainer): Promise<void> {
    const dir = configDir(rc.name)
    await this.host.run(['install', '-d', '-m', '0700', '/etc/osctl', dir])
    for (const [file, text] of Object.entries(rc.files)) await this.host.writeFileAtomic(posix.join(dir, file), text, {mode: 0o600})
  }

  private async runSteps(rs: RenderedService, desired: Desired[], runOnce: boolean): Promise<string[]> {
    const keys = await this.ledger.bootstrapKeys(rs.service)
    const ran: string[] = []
    for (const step of rs.steps) {
      if (step.once && !runOnce) continue
      const d = desired.find((x) => x.rc.name === step.container)!
      const key = stepKey(step, d.spec)
      if (keys[step.name] === key) continue
      this.reporter.emit('service.step.start', {service: rs.service, step: step.name, phase: 'bootstrap'}, this.host.name)
      const started = Date.now()
      await runBootstrapStep(this.docker, d.spec, step, this.host.name)
      await this.ledger.setBootstrapKey(rs.service, step.name, key)
      this.reporter.emit('service.step.done', {service: rs.service, step: step.name, phase: 'bootstrap', seconds: (Date.now() - started) / 1000}, this.host.name)
      ran.push(step.name)
    }
    return ran
  }

  /**
   * post_deploy steps, after the whole deploy converged. They run again when the deploy changed
   * anything (`force`: e.g. a new compute host for discover_hosts) or their last run did not
   * succeed with this image and config. Returns the steps that ran.
   */
  async runPostSteps(rs: RenderedService, force: boolean): Promise<string[]> {
    const record = await this.ledger.current(rs.service)
    const keys = await this.ledger.bootstrapKeys(rs.service)
    const ran: string[] = []
    for (const step of rs.postSteps ?? []) {
      const spec = record?.containers.find((c) => c.name === step.container)?.spec
      if (!spec) throw new OsctlError('COMMAND_FAILED', `${this.host.name}: post_deploy step ${step.name} of ${rs.service}: container ${step.container} has no ledger record`, {hint: `deploy ${rs.service} first`})
      const key = stepKey(step, spec)
      if (!force && keys[step.name] === key) continue
      // Forget the last success first: a failed run must be retried even if nothing else changes.
      if (keys[step.name]) await this.ledger.setBootstrapKey(rs.service, step.name, '')
      this.reporter.emit('service.step.start', {service: rs.service, step: step.name, phase: 'post_deploy'}, this.host.name)
      const started = Date.now()
      await runBootstrapStep(this.docker, spec, step, this.host.name)
      await this.ledger.setBootstrapKey(rs.service, step.name, key)
      this.reporter.emit('service.step.done', {service: rs.service, step: step.name, phase: 'post_deploy', seconds: (Date.now() - started) / 1000}, this.host.name)
      ran.push(step.name)
    }
    return ran
  }

  private async converge(service: string, d: Desired, revision: number, unit: string, before: ContainerSpec | undefined): Promise<ContainerOutcome> {
    const name = d.rc.name
    const unitName = serviceUnitName(name)
    const recreate = !d.exists || d.actualHash !== d.hash
    let status: ContainerOutcome['status'] = 'unchanged'
    let changed: string[] = []
    if (recreate) {
      changed = !d.exists ? (before && specHash(before) === d.hash ? ['missing'] : specDiff(before, d.spec)) : specDiff(before, d.spec)
      if (changed.length === 0) changed = ['drift']
      this.reporter.emit('service.container.replace', {service, container: name, exists: d.exists, changed}, this.host.name)
      // Created while the old one still serves; the swap itself runs on the host (container-swap.ts).
      await replaceContainer(this.host, this.docker, d.spec, revision, unit)
      status = d.exists ? 'recreated' : 'created'
    } else {
      const unitChanged = await this.host.writeFileAtomic(serviceUnitPath(name), unit)
      if (unitChanged) await this.host.run(['systemctl', 'daemon-reload'])
      await this.host.run(['systemctl', 'enable', '--quiet', unitName])
      const active = (await this.host.exec(['systemctl', 'is-active', unitName])).stdout.trim() === 'active'
      if (!active || !d.running) {
        await this.host.exec(['systemctl', 'reset-failed', unitName])
        await this.host.run(['systemctl', 'start', unitName], {timeoutMs: 90_000})
        status = 'started'
      }
    }
    const health = await waitContainerHealthy(this.host, this.docker, name, d.rc.health)
    if (!health.healthy) {
      const logs = tailLines(await this.docker.containerLogs(name, 40).catch(() => ''), 20)
      throw new OsctlError('COMMAND_FAILED', `${this.host.name}: ${service} container ${name} (revision ${revision}) is not healthy: ${health.detail}`, {
        details: logs,
        hint: `see \`osctl service logs ${name} --host ${this.host.name}\` and \`journalctl -u ${unitName}\` on ${this.host.name}`,
      })
    }
    if (recreate) await dropPrevious(this.docker, name)
    return {name, status, changed: status === 'unchanged' || status === 'started' ? [] : changed, image: d.spec.image, health: health.detail}
  }
}

function whoAmI(): string {
  return `${userName()}@${hostname()}`
}
