import {posix} from 'node:path'

import type {ContainerSpec} from '../catalog/container-spec.js'
import {configDir, dockerCheckOf} from '../catalog/container-spec.js'
import type {DeployPlan} from '../catalog/plan.js'
import type {RenderedContainer} from '../catalog/render.js'
import {silentReporter} from '../events/reporters.js'
import {fanOut} from '../hosts/fan-out.js'
import type {HostSession} from '../session/host-session.js'
import type {Site, SiteHost} from '../site/types.js'
import type {DeployHostSummary} from './deploy.js'
import type {ContainerDecision, ServiceDecision} from './decide.js'
import {ServiceDeployer} from './service-deployer.js'
import {unifiedDiff} from './unified-diff.js'

/** A container spec field that would change: its recorded value (ledger) and the wanted one. */
export interface FieldChange {
  field: 'image' | 'env' | 'volumes' | 'health' | 'monitor' | 'healthcheck' | 'privileges'
  before?: unknown
  after: unknown
}

/** A config file whose content on the host differs from what deploy would write there. */
export interface ConfigChange {
  file: string
  /** Unified diff, host file → rendered; passwords replaced by <password:KEY>. Absent for secret files. */
  diff?: string
  /** A file only its owner may read in the container (fernet keys, erlang cookie): never shown. */
  secret?: true
  state: 'added' | 'changed'
}

export interface ContainerAction {
  container: string
  /** create, recreate, start, or update (config files or unit rewritten, container left running). */
  action: 'create' | 'recreate' | 'start' | 'update'
  /** decide()'s words: new, image, env, volumes, health, monitor, privileges, config:<file>, missing, drift, stopped. */
  reasons: string[]
  image: string
  fields: FieldChange[]
  configs: ConfigChange[]
  unitChanged: boolean
}

export interface ServiceAction {
  host: string
  service: string
  /** The revision in force now, and the one deploy would write (equal when none is written). */
  revision?: number
  nextRevision: number
  newRevision: boolean
  steps: string[]
  containers: ContainerAction[]
  /** An interrupted deploy this run would complete. */
  completes?: string
}

export interface DryRunResult {
  actions: ServiceAction[]
  unchanged: Array<{host: string; service: string; revision: number}>
  hosts: Array<DeployHostSummary & {wouldChange: boolean}>
  skipped: DeployPlan['skipped']
  changes: boolean
}

/**
 * `deploy --dry-run`: observe + decide for every planned service on every target host, exactly as
 * deploy would (ServiceDeployer.plan), and nothing else: no pull, no journal, no lock, no write.
 * An image the host does not have yet counts as an image change (deploy would pull it).
 */
export async function dryRun(site: Site, plan: DeployPlan, targets: SiteHost[], session: HostSession): Promise<DryRunResult> {
  const redact = redactor(site.passwords)
  const results = await fanOut(targets, site.config.sshConcurrency, async (t) => {
    const deployer = new ServiceDeployer(session.host(t), session.docker(t), silentReporter)
    const decisions: ServiceDecision[] = []
    for (const ps of plan.services) {
      const rs = ps.rendered.get(t.name)
      if (!rs) continue
      decisions.push(await deployer.plan(rs, {runOnce: t.name === ps.hosts[0].name}))
    }
    return decisions
  })
  const actions: ServiceAction[] = []
  const unchanged: DryRunResult['unchanged'] = []
  for (const r of results) {
    for (const d of r.value ?? []) {
      const action = describeDecision(d, redact)
      if (action) actions.push(action)
      else unchanged.push({host: d.host, service: d.service, revision: d.revision})
    }
  }
  const hosts = results.map((r) => ({host: r.host, ok: r.ok, ...(r.error ? {error: r.error.toJSON()} : {}), wouldChange: actions.some((a) => a.host === r.host)}))
  return {actions, unchanged, hosts, skipped: plan.skipped, changes: actions.length > 0}
}

/** What deploy would do for one service on one host, or undefined when it would do nothing. */
export function describeDecision(d: ServiceDecision, redact: (s: string) => string = (s) => s): ServiceAction | undefined {
  const containers = d.containers.flatMap((c) => containerAction(c, redact))
  const steps = d.steps.map((s) => s.step.name)
  if (!d.newRevision && containers.length === 0 && steps.length === 0 && !d.takeOver) return undefined
  return {
    host: d.host,
    service: d.service,
    ...(d.newRevision ? (d.previous !== undefined ? {revision: d.previous} : {}) : {revision: d.revision}),
    nextRevision: d.revision,
    newRevision: d.newRevision,
    steps,
    containers,
    ...(d.takeOver ? {completes: `${d.takeOver.op} ${d.takeOver.operation}`} : {}),
  }
}

function containerAction(c: ContainerDecision, redact: (s: string) => string): ContainerAction[] {
  if (c.action === 'none' && !c.unitChanged && c.configChanged.length === 0) return []
  return [{
    container: c.rc.name,
    action: c.action === 'none' ? 'update' : c.action,
    reasons: c.action === 'none' ? [...c.configChanged.map((f) => `config:${f}`), ...(c.unitChanged ? ['unit'] : [])] : c.reasons,
    image: c.spec.image,
    fields: fieldChanges(c.before, c.spec, redact),
    configs: c.configChanged.map((file) => configChange(c.rc, file, c.observed?.[file], redact)),
    unitChanged: c.unitChanged,
  }]
}

function fieldChanges(before: ContainerSpec | undefined, after: ContainerSpec, redact: (s: string) => string): FieldChange[] {
  if (!before) return []
  const out: FieldChange[] = []
  if (before.image !== after.image || before.imageId !== after.imageId) {
    out.push({field: 'image', before: {ref: before.image, id: before.imageId}, after: {ref: after.image, id: after.imageId || '(not on the host yet: deploy pulls it)'}})
  }
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y)
  if (!same(before.env, after.env)) out.push({field: 'env', before: redactEnv(before.env, redact), after: redactEnv(after.env, redact)})
  if (!same(before.volumes, after.volumes)) out.push({field: 'volumes', before: before.volumes, after: after.volumes})
  if (!same(before.health, after.health)) out.push({field: 'health', before: before.health, after: after.health})
  if (!same(before.monitor ?? null, after.monitor ?? null)) out.push({field: 'monitor', before: before.monitor ?? null, after: after.monitor ?? null})
  if (!same(dockerCheckOf(before), dockerCheckOf(after))) out.push({field: 'healthcheck', before: dockerCheckOf(before), after: dockerCheckOf(after)})
  if (!same(before.privileges ?? null, after.privileges ?? null)) out.push({field: 'privileges', before: before.privileges ?? null, after: after.privileges ?? null})
  return out
}

function redactEnv(env: Record<string, string>, redact: (s: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, redact(v)]))
}

function configChange(rc: RenderedContainer, file: string, current: string | undefined, redact: (s: string) => string): ConfigChange {
  const state = current === undefined ? 'added' : 'changed'
  if (secretFile(rc, file)) return {file, secret: true, state}
  const path = posix.join(configDir(rc.name), file)
  const diff = unifiedDiff(current ?? '', rc.files[file], {from: current === undefined ? '/dev/null' : `${path} (on the host)`, to: `${path} (rendered)`})
  // The two header lines are paths osctl chose; only the file's own lines can hold a password.
  const [from, to, ...body] = diff.split('\n')
  return {file, state, diff: [from, to, redact(body.join('\n'))].join('\n')}
}

/** A config file installed with no group or other bits (0600, 0400) holds key material. */
function secretFile(rc: RenderedContainer, file: string): boolean {
  try {
    const manifest = JSON.parse(rc.files['config.json'] ?? '{}') as {config_files?: Array<{source: string; perm?: string}>}
    const perm = manifest.config_files?.find((f) => posix.basename(f.source) === file)?.perm
    return perm !== undefined && (Number.parseInt(perm, 8) & 0o077) === 0
  } catch {
    return false
  }
}

/**
 * Every password value in a text becomes <password:KEY>, longest first (one may contain another).
 * Values shorter than 4 characters are left alone: masking them would blank out ordinary words.
 */
export function redactor(passwords: Record<string, string>): (s: string) => string {
  const pairs = Object.entries(passwords).filter(([, v]) => typeof v === 'string' && v.length >= 4).sort(([, a], [, b]) => b.length - a.length)
  return (s) => pairs.reduce((text, [k, v]) => text.split(v).join(`<password:${k}>`), s)
}

/** The text report: per host and service what would change and why, config diffs indented. */
export function dryRunLines(r: DryRunResult): string[] {
  const lines: string[] = []
  for (const a of r.actions) {
    const rev = a.newRevision ? `r${a.revision ?? '-'} → r${a.nextRevision}` : `r${a.nextRevision}`
    lines.push(`${a.host.padEnd(16)} ${a.service.padEnd(12)} ${rev}${a.completes ? ` (completes interrupted ${a.completes})` : ''}`)
    for (const c of a.containers) {
      lines.push(`  ${c.container}: ${c.action} (${c.reasons.join(', ')})${c.unitChanged ? ', unit rewritten' : ''}`)
      for (const f of c.fields) lines.push(`    ${f.field}: ${JSON.stringify(f.before)} → ${JSON.stringify(f.after)}`)
      for (const f of c.configs) {
        if (f.secret) lines.push(`    ${f.file}: ${f.state} (secret file, not shown)`)
        else lines.push(...(f.diff ?? '').trimEnd().split('\n').map((l) => `    ${l}`))
      }
    }
    if (a.steps.length) lines.push(`  bootstrap steps: ${a.steps.join(', ')}`)
  }
  for (const u of r.unchanged) lines.push(`${u.host.padEnd(16)} ${u.service.padEnd(12)} r${u.revision} unchanged`)
  for (const h of r.hosts.filter((x) => !x.ok)) lines.push(`${h.host.padEnd(16)} FAILED ${(h.error as {message?: string} | undefined)?.message ?? ''}`)
  return lines
}
