import {throwIfInterrupted} from '../cli/interrupt.js'
import {OsctlError, errorData} from '../errors.js'
import type {Reporter} from '../events/reporters.js'
import {HostResult, fanOut} from '../hosts/fan-out.js'
import type {ServiceDef} from '../catalog/catalog.js'
import type {VerifyImages} from '../catalog/plan.js'
import {DeployResult, deploy} from '../apply/deploy.js'
import type {DeployContext} from '../session/deploy-context.js'
import {BackupMeta, backupDatabases, carryBackup, dropBackup, readBackup, restoreIfMigrated} from '../revisions/db-backup.js'
import {withLocks} from '../revisions/host-locks.js'
import {Journal, newOperationId} from '../revisions/journal.js'
import type {SiteHost} from '../site/types.js'
import {RestoreResult, RevisionRestorer} from './revision-restore.js'
import {UpgradePlan, batches, planUpgrade} from './upgrade-plan.js'

export interface UpgradeResult {
  service: string
  tag: string
  batches: Array<{hosts: string[]; ok: boolean}>
  /** Hosts that ended on the new revision. */
  upgraded: string[]
  /** Hosts put back on their previous revision after a failed batch. */
  restored: RestoreResult[]
  deploys: DeployResult[]
  /** The database snapshot taken before the change, when the service has databases. */
  backup?: BackupMeta
}

type Ctx = Pick<DeployContext, 'site' | 'catalog' | 'overrides' | 'session'>

/**
 * One service to another image tag: planned once (upgrade-plan.ts), the image pulled on every
 * target first (nothing stops while pulling), the databases snapshotted, then hosts change in
 * batches of `serial`, each health-gated by deploy. A batch that fails is put back on the revision
 * its ledger still calls current, later batches are not touched, and the error says so (exit 4).
 */
export async function upgradeService(
  ctx: Ctx,
  def: ServiceDef,
  targets: SiteHost[],
  opts: {
    tag: string
    serial: number
    reporter: Reporter
    verifyImages?: VerifyImages
    /** Only these containers of the service change image (`service upgrade nova-api`); the others keep what their current revision runs. */
    containers?: string[]
  },
): Promise<UpgradeResult> {
  const {reporter} = opts
  const up = await planUpgrade(ctx, def, targets, opts)
  const groups = batches(targets, opts.serial)

  // Pulled images stay until the new revision names them: image prune waits (revisions/host-locks.ts).
  return withLocks(targets.map((t) => ctx.session.host(t)), 'pull', 'upgrade', async () => {
    // The snapshot is taken while the images come: both only read, and neither waits for the other.
    const saved = snapshot(ctx, up, reporter)
    saved.catch(() => undefined)
    const pulls = await fanOut(targets, up.site.config.sshConcurrency, async (t) => {
      for (const ref of up.refs) await ctx.session.docker(t).pullImage(ref, {onProgress: (p) => reporter.emit('image.pull.progress', {ref, ...p}, t.name)})
    })
    const notPulled = pulls.filter((p) => !p.ok)
    if (notPulled.length) {
      // Nothing changes: not even a snapshot is left behind for a revision that was never written.
      // One carried from an interrupted upgrade stays (it may be that upgrade's own file).
      const taken = await saved.catch(() => undefined)
      const carried = up.migrationHost !== undefined && up.pending.get(up.migrationHost.name)?.backup !== undefined
      if (taken && !carried) await dropBackup(ctx.session.host(up.plan.databaseHost!), taken).catch(() => undefined)
      throw pullFailed(up.refs, pulls)
    }
    reporter.emit('image.pull.done', {refs: up.refs, hosts: targets.length})

    const result: UpgradeResult = {service: def.name, tag: opts.tag, batches: [], upgraded: [], restored: [], deploys: []}
    result.backup = await saved
    const operation = newOperationId('upgrade')
    for (const [i, batch] of groups.entries()) {
      throwIfInterrupted(`upgrading ${batch.map((t) => t.name).join(', ')}${result.upgraded.length ? ` (already upgraded: ${result.upgraded.join(', ')})` : ''}`)
      const deployed = await deploy(up.site, {...up.plan, services: up.plan.services.map((s) => ({...s, targets: batch}))}, batch, ctx.session, reporter, {
        op: 'upgrade',
        operation,
        backup: result.backup?.revision,
        keepJournalOnFailure: true,
        standbySeconds: up.site.config.rollbackStandbySeconds,
        revisions: up.revisions,
      })
      result.deploys.push(deployed)
      const failed = deployed.hosts.filter((h) => !h.ok)
      result.batches.push({hosts: batch.map((b) => b.name), ok: failed.length === 0})
      result.upgraded.push(...deployed.hosts.filter((h) => h.ok).map((h) => h.host))
      if (failed.length === 0) continue

      if (result.backup && failed.some((f) => f.host === up.migrationHost?.name)) {
        const dbHost = up.plan.databaseHost!
        const done = await restoreIfMigrated(ctx.session.host(dbHost), result.backup)
        reporter.emit(done === 'restored' ? 'db.restored' : 'db.kept', {service: def.name, databases: result.backup.databases, revision: result.backup.revision}, dbHost.name)
      }
      for (const f of failed) {
        const siteHost = batch.find((b) => b.name === f.host)!
        const host = ctx.session.host(siteHost)
        result.restored.push(await new RevisionRestorer(host, ctx.session.docker(siteHost), reporter).reapplyCurrent(def.name, up.revisions.get(f.host) ?? 0))
        await new Journal(host).end(def.name)
      }
      const left = groups.slice(i + 1).flat().map((t) => t.name)
      throw new OsctlError('ROLLED_BACK', `${def.name} ${opts.tag} failed on ${failed.map((f) => `${f.host} (${f.error?.message})`).join('; ')}; restored the previous revision there${left.length ? `; not touched: ${left.join(', ')}` : ''}${result.upgraded.length ? `; already upgraded: ${result.upgraded.join(', ')}` : ''}`, {
        details: result,
        hint: `See \`osctl service logs ${def.name}\`; \`osctl service history ${def.name}\` shows the failed revision.`,
      })
    }
    return result
  })
}

/**
 * A new image may migrate the schema (its db-sync step runs on the group's first host), so its
 * databases are saved first. An interrupted upgrade's snapshot is the pre-upgrade state: it is
 * carried to this revision instead of dumping the half-migrated database.
 */
async function snapshot(ctx: Ctx, up: UpgradePlan, reporter: Reporter): Promise<BackupMeta | undefined> {
  const {def, databases, migrationHost} = up
  const dbSite = up.plan.databaseHost
  if (databases.length === 0 || !dbSite || !migrationHost) return undefined
  const dbHost = ctx.session.host(dbSite)
  const revision = up.revisions.get(migrationHost.name)!
  const killed = up.pending.get(migrationHost.name)
  const earlier = killed?.backup === undefined ? undefined : await readBackup(dbHost, def.name, killed.backup)
  if (earlier) {
    const carried = await carryBackup(dbHost, earlier, revision)
    reporter.emit('db.snapshot.carried', {service: def.name, databases, revision, from: earlier.revision}, dbSite.name)
    return carried
  }
  const taken = await backupDatabases(dbHost, def.name, databases, revision)
  reporter.emit('db.snapshot', {service: def.name, databases, revision, bytes: taken.bytes}, dbSite.name)
  return taken
}

/**
 * Some target could not pull: nothing changed anywhere. The error keeps the pull's kind (a registry
 * that does not answer is exit 5, a missing tag 2, a full disk 1) and hint, and lists every target.
 */
export function pullFailed(refs: string[], pulls: Array<HostResult<unknown>>): OsctlError {
  const failed = pulls.filter((p) => !p.ok)
  const first = failed[0].error!
  const codes = new Set(failed.map((p) => p.error?.code))
  return new OsctlError(codes.size === 1 ? first.code : 'COMMAND_FAILED', `pulling ${refs.join(', ')} failed on ${failed.map((p) => p.host).join(', ')}: ${first.message}`, {
    ...(codes.size === 1 ? {exitCode: first.exitCode} : {}),
    hint: `${first.hint ? `${first.hint.replace(/\.$/, '')}. ` : ''}Nothing was changed on any host.`,
    details: {hosts: pulls.map((p) => ({host: p.host, ok: p.ok, changed: false, exitCode: p.ok ? 0 : p.error!.exitCode, ...(p.ok ? {} : {error: errorData(p.error)})}))},
  })
}
