import {ContainerSpec, LABELS, desiredSpec, dockerCheckOf, specDiff, specHash} from '../catalog/container-spec.js'
import type {RenderedContainer, RenderedService, RenderedStep} from '../catalog/render.js'
import {OsctlError} from '../errors.js'
import {DEFAULT_CONTAINER_HEALTHCHECK} from '../site/types.js'
import {JournalEntry, JournalOp, busy, describeEntry} from '../revisions/journal.js'
import type {RevisionContainer, RevisionRecord} from '../revisions/ledger.js'
import {stepKey} from './bootstrap-steps.js'
import type {ObservedService} from './observe.js'
import {installSection, renderServiceUnit, serviceUnitName} from './service-unit.js'

export interface ContainerDecision {
  rc: RenderedContainer
  spec: ContainerSpec
  hash: string
  /** create: absent; recreate: its spec hash differs; start: same spec, not running; none: left alone. */
  action: 'create' | 'recreate' | 'start' | 'none'
  /** Why (specDiff words: image, env, config:<file> …; missing; drift; stopped); [] for none. */
  reasons: string[]
  unit: string
  unitChanged: boolean
  /** The unit is enabled on the host now, and the new text enables it alike (same [Install]): no `systemctl enable` needed. */
  enabled: boolean
  /** Config files whose content on the host differs from the rendered one. */
  configChanged: string[]
  /** The spec the current revision recorded for it (what specDiff compared against). */
  before?: ContainerSpec
  /** The config files as they are on the host now (undefined: absent), for `deploy --dry-run`'s diffs. */
  observed?: Record<string, string | undefined>
  /** Docker's own run of the container's health check (the same test, every 30 s) says healthy. */
  dockerHealthy?: boolean
}

export interface ServiceDecision {
  service: string
  host: string
  /** The revision in force after the change: a new number when any container spec changed. */
  revision: number
  newRevision: boolean
  previous?: number
  /** An operation a killed osctl left on this host, which this change completes. */
  takeOver?: JournalEntry
  /** Whether the change touches the host at all (journal entry written). */
  journaled: boolean
  steps: Array<{step: RenderedStep; key: string}>
  containers: ContainerDecision[]
  /** The record of the new revision (outcome deploying), when newRevision. */
  record?: RevisionRecord
  /** The osctl invocation making the change (journal entry, revision record). */
  operation: string
}

export interface DecideOptions {
  op: JournalOp
  /** This host runs the `once` bootstrap steps (first host of its group). */
  runOnce: boolean
  /** The revision number to use if a new one is needed (upgrade plans it once); else the host's next. */
  revision?: number
  operation: string
  createdBy: string
  now: string
}

/**
 * What applying a rendered service to a host would do, and why: a pure function of the rendered
 * service and what observe() read. deploy acts on it; `deploy --dry-run` only prints it.
 */
export function decideService(rs: RenderedService, seen: ObservedService, opts: DecideOptions): ServiceDecision {
  const takeOver = interrupted(rs.service, seen, opts.op)
  const record = seen.record
  const recorded = new Map((record?.containers ?? []).map((c) => [c.name, c]))
  const specs = rs.containers.map((rc) => {
    const spec = desiredSpec(rc, seen.containers.get(rc.name)?.imageId ?? '')
    return {rc, spec, hash: specHash(spec)}
  })
  const newRevision = !record || record.outcome !== 'active' || recorded.size !== specs.length || specs.some((d) => recorded.get(d.rc.name)?.hash !== d.hash)
  const revision = newRevision ? (opts.revision ?? seen.nextRevision) : record!.revision
  const containers = specs.map(({rc, spec, hash}): ContainerDecision => {
    const o = seen.containers.get(rc.name)
    const before = recorded.get(rc.name)?.spec
    const unit = renderServiceUnit({service: rs.service, container: rc.name, after: rs.after})
    const base = {rc, spec, hash, unit, unitChanged: o?.unitText !== unit, enabled: (o?.unitEnabled ?? false) && installSection(o?.unitText) === installSection(unit), configChanged: Object.keys(rc.files).filter((f) => o?.configs[f] !== rc.files[f]), before, observed: o?.configs}
    const actualHash = o?.actual?.labels[LABELS.configHash]
    if (!o?.actual || actualHash !== hash) {
      let reasons = !o?.actual && before && specHash(before) === hash ? ['missing'] : specDiff(before, spec)
      if (reasons.length === 0) reasons = ['drift']
      return {...base, action: o?.actual ? 'recreate' : 'create', reasons}
    }
    if (!o.unitActive || o.actual.state !== 'running') return {...base, action: 'start', reasons: ['stopped']}
    return {...base, action: 'none', reasons: [], ...(o.actual.health === 'healthy' && dockerWordFresh(spec) ? {dockerHealthy: true} : {})}
  })
  const keys = seen.bootstrapKeys
  const steps = rs.steps
    .filter((step) => !step.once || opts.runOnce)
    .map((step) => ({step, key: stepKey(step, specs.find((s) => s.rc.name === step.container)!.spec, seen.fingerprints)}))
    .filter(({step, key}) => keys[step.name] !== key)
  return {
    service: rs.service,
    host: seen.host,
    revision,
    newRevision,
    ...(record && newRevision ? {previous: record.revision} : {}),
    ...(takeOver ? {takeOver} : {}),
    journaled: newRevision || containers.some((c) => c.action !== 'none'),
    steps,
    containers,
    operation: opts.operation,
    ...(newRevision ? {record: newRecord(rs, seen, record, revision, containers, recorded, opts)} : {}),
  }
}

/** A running entry refuses; an interrupted one is taken over, except that a deploy never completes someone's upgrade or rollback. */
function interrupted(service: string, seen: ObservedService, op: JournalOp): JournalEntry | undefined {
  const found = seen.journal
  if (!found || found.state === 'mine') return undefined
  if (found.state === 'running') throw busy(seen.host, found.entry)
  const e = found.entry
  if (op === 'deploy' && e.op !== 'deploy') {
    throw new OsctlError('USAGE', `${seen.host}: an interrupted ${describeEntry(e)} is unfinished; deploy will not pick a side`, {
      hint: `Complete it with \`osctl service ${e.op} ${service}${e.op === 'upgrade' ? ' --tag …' : ''}\` or undo it with \`osctl service rollback ${service}\`, then deploy.`,
    })
  }
  return e
}

function newRecord(rs: RenderedService, seen: ObservedService, record: RevisionRecord | undefined, revision: number, containers: ContainerDecision[], recorded: Map<string, RevisionContainer>, opts: DecideOptions): RevisionRecord {
  return {
    format: 1,
    service: rs.service,
    host: seen.host,
    revision,
    ...(record ? {previous: record.revision} : {}),
    createdAt: opts.now,
    createdBy: opts.createdBy,
    outcome: 'deploying',
    operation: opts.operation,
    containers: containers.map((c): RevisionContainer => ({
      name: c.rc.name,
      image: c.spec.image,
      imageId: c.spec.imageId,
      spec: c.spec,
      hash: c.hash,
      unitName: serviceUnitName(c.rc.name),
      changed: recorded.get(c.rc.name)?.hash === c.hash ? [] : specDiff(recorded.get(c.rc.name)?.spec, c.spec),
    })),
  }
}

/** Nothing to write, start, run or clean up: the host already is what the decision wants. */
export function converged(d: ServiceDecision, seen: ObservedService): boolean {
  const c = d.containers
  return !d.takeOver && !d.journaled && d.steps.length === 0 && c.every((x) => x.action === 'none' && !x.unitChanged && x.configChanged.length === 0) && [...seen.containers.values()].every((x) => !x.spareNext)
}

/**
 * Docker keeps calling a container healthy until `retries` checks in a row failed: up to
 * interval × retries after it broke (90 s with the default timing). A no-op deploy takes that word
 * instead of probing only when it is no staler than with the default; a longer osctl.yml interval
 * makes it probe the container itself.
 */
export function dockerWordFresh(spec: ContainerSpec): boolean {
  const t = dockerCheckOf(spec)
  const d = DEFAULT_CONTAINER_HEALTHCHECK
  return t.enabled && t.intervalSeconds * t.retries <= d.intervalSeconds * d.retries
}
