import {throwIfInterrupted} from '../cli/interrupt.js'
import {registrySource} from '../bootstrap/system-context.js'
import {OsctlError} from '../errors.js'
import {Reporter} from '../events/reporters.js'
import type {SlotInfo} from './layout.js'
import {ApplyResult, SystemManager} from './manager.js'
import type {RollbackPlan} from './rollback-plan.js'
import type {SystemTarget} from './system-targets.js'
import {assertSecrets} from '../site/secrets.js'
import type {Site} from '../site/types.js'

/**
 * One host at a time (a cluster such as etcd keeps quorum); the first failure stops the rest and
 * names the hosts already changed. The image is resolved once before any host is touched.
 */
export async function upgradeSystem(site: Site, targets: SystemTarget[], tag: string, reporter: Reporter, onResult: (r: ApplyResult) => void = () => {}): Promise<ApplyResult[]> {
  assertSecrets(site, Object.fromEntries(targets[0].def.secrets.map((k) => [k, [targets[0].def.name]])))
  const source = registrySource(site, targets[0].def.image, tag)
  const results: ApplyResult[] = []
  try {
    await new SystemManager(targets[0].host, reporter).imageId(source)
    for (const t of targets) {
      throwIfInterrupted(`upgrading ${t.siteHost.name}`)
      const r = await new SystemManager(t.host, reporter).apply(t.def, t.ctx, source, 'upgrade')
      results.push(r)
      onResult(r)
    }
  } catch (err) {
    throw withDone(err, results, 'already upgraded')
  }
  return results
}

/**
 * Plans on every host first (a revision one host cannot return to changes nothing anywhere), then
 * one host at a time, each health-gated. With --to, a host already running REV (a previous run
 * stopped halfway) is left alone.
 */
export async function rollbackSystem(name: string, targets: SystemTarget[], opts: {to?: number; force: boolean}, reporter: Reporter, onResult: (r: ApplyResult) => void = () => {}): Promise<ApplyResult[]> {
  const plans: Array<RollbackPlan | ApplyResult> = []
  let alreadyThere: OsctlError | undefined
  for (const t of targets) {
    try {
      plans.push(await new SystemManager(t.host, reporter).planRollback(name, opts))
    } catch (err) {
      const current = err instanceof OsctlError && opts.to !== undefined ? (err.details as {alreadyCurrent?: SlotInfo} | undefined)?.alreadyCurrent : undefined
      if (!current) throw err
      alreadyThere ??= err as OsctlError
      plans.push({name: current.name, host: t.siteHost.name, status: 'unchanged', revision: current.revision, slot: current.slot, image: current.image})
    }
  }
  if (alreadyThere && plans.every((p) => 'status' in p)) throw alreadyThere
  const results: ApplyResult[] = []
  try {
    for (const [i, t] of targets.entries()) {
      throwIfInterrupted(`rolling back ${t.siteHost.name}`)
      const plan = plans[i]
      const r = 'status' in plan ? plan : await new SystemManager(t.host, reporter).executeRollback(t.def, t.ctx, plan)
      results.push(r)
      onResult(r)
    }
  } catch (err) {
    throw withDone(err, results.filter((r) => r.status !== 'unchanged'), 'already rolled back')
  }
  return results
}

function withDone(err: unknown, done: ApplyResult[], words: string): unknown {
  if (!(err instanceof OsctlError) || done.length === 0) return err
  return new OsctlError(err.code, `${err.message} (${words}: ${done.map((r) => r.host).join(', ')})`, {exitCode: err.exitCode, hint: err.hint, details: err.details, location: err.location})
}
