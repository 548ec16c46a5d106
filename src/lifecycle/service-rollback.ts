import {balancerFor} from '../apply/balancer.js'
import {OsctlError} from '../errors.js'
import type {Host} from '../hosts/host.js'
import {Reporter} from '../events/reporters.js'
import type {SiteHost} from '../site/types.js'
import type {ServiceDef} from '../catalog/catalog.js'
import {BackupMeta, readBackup, restoreIfMigrated} from '../revisions/db-backup.js'
import type {DeployContext} from '../session/deploy-context.js'
import {JournalEntry, pendingOperations} from '../revisions/journal.js'
import {Ledger} from '../revisions/ledger.js'
import {groupHosts} from '../catalog/group-hosts.js'
import {RestorePlan, RestoreResult, RevisionRestorer} from './revision-restore.js'
import {settledValue} from './settled.js'
import {LABELS} from '../labels.js'
import {stopStandbyTimer} from '../apply/container-swap.js'

export interface RollbackResult {
  service: string
  results: RestoreResult[]
  /** The snapshot restored, when the revision being left had migrated the databases. */
  databaseRestored?: BackupMeta
  /** The snapshot not restored because the schema had not changed since it was taken. */
  databaseKept?: BackupMeta
  /** Operations a killed osctl left half-done, which this rollback undid (upgrade, deploy) or completed (rollback). */
  interrupted: JournalEntry[]
}

type Step = {kind: 'undo'; entry: JournalEntry} | {kind: 'restore'; to?: number; entry?: JournalEntry} | {kind: 'skip'; entry?: undefined}

/**
 * Every host is checked before anything changes. When the revision being left changed the image of
 * a service with databases, its schema may have been migrated: the snapshot taken before it is
 * restored first, and without one the rollback is refused unless forced.
 */
export async function rollbackService(ctx: DeployContext, def: ServiceDef, targets: SiteHost[], opts: {to?: number; force: boolean; reporter: Reporter; container?: string}): Promise<RollbackResult> {
  const hosts = ctx.session.hostsFor(targets)
  const balancer = balancerFor(ctx.site, ctx.session, opts.reporter)
  const restorers = targets.map((t, i) => new RevisionRestorer(hosts[i], ctx.session.docker(t), opts.reporter, undefined, balancer))
  {
    // A change a killed osctl left half-done: an upgrade or deploy is undone (back to the revision
    // the ledger still calls current), a rollback is completed (to the revision it was going to).
    // Hosts that finished their part of that operation go back too; the others are left alone.
    const pending = await pendingOperations(hosts, def.name)
    const operations = new Set([...pending.values()].map((e) => e.operation))
    const steps: Step[] = await Promise.all(
      hosts.map(async (h): Promise<Step> => {
        const e = pending.get(h.name)
        if (opts.to !== undefined) return {kind: 'restore', to: opts.to, entry: e}
        if (e) return e.op === 'rollback' ? {kind: 'restore', to: e.revision, entry: e} : {kind: 'undo', entry: e}
        if (operations.size === 0) return {kind: 'restore'}
        const op = (await new Ledger(h).current(def.name))?.operation
        return op && operations.has(op) ? {kind: 'restore'} : {kind: 'skip'}
      }),
    )
    // Where each host goes, read once (all hosts at once) for every check below and the restore itself.
    const read = await Promise.allSettled(steps.map((step, i) => (step.kind === 'restore' ? restorers[i].target(def.name, step.to) : Promise.resolve(undefined))))
    for (const [i, step] of steps.entries()) {
      const e = step.entry
      if (e) opts.reporter.emit('service.interrupted', {service: def.name, op: e.op, revision: e.revision, action: step.kind === 'undo' ? 'undo' : 'complete', pid: e.pid, machine: e.machine}, hosts[i].name)
      if (step.kind === 'skip') opts.reporter.emit('service.left-alone', {service: def.name, reason: 'not part of the interrupted operation; left as it is'}, hosts[i].name)
    }
    const plans = read.map(settledValue)
    if (opts.container) await onlyThisContainer(hosts, steps, plans, def.name, opts.container, opts.to)
    const undo = (i: number) => (steps[i].kind === 'undo' ? steps[i].entry : undefined)

    let snapshot: BackupMeta | undefined
    let databaseKept: BackupMeta | undefined
    const mariadb = ctx.catalog.get('mariadb')
    const migrationHost = groupHosts(ctx.site, def)[0]
    const firstIdx = targets.findIndex((t) => t.name === migrationHost.name)
    if (def.databases.length > 0 && mariadb && firstIdx >= 0 && steps[firstIdx].kind !== 'skip') {
      const leaving = plans[firstIdx]?.current ?? (await new Ledger(hosts[firstIdx]).current(def.name))!
      const dbHost = ctx.session.host(groupHosts(ctx.site, mariadb)[0])
      const halfDone = undo(firstIdx)
      // Undoing a half-done upgrade: its snapshot (if it took one) is the pre-upgrade database.
      snapshot = halfDone ? (halfDone.backup === undefined ? undefined : await readBackup(dbHost, def.name, halfDone.backup)) : await readBackup(dbHost, def.name, leaving.revision)
      const imageChanged = leaving.containers.some((c) => c.changed.includes('image') || c.changed.includes('new'))
      if (!halfDone && !snapshot && imageChanged && leaving.previous !== undefined && !opts.force) {
        throw new OsctlError('USAGE', `${def.name} revision ${leaving.revision} changed the image and may have migrated ${def.databases.map((d) => d.name).join(', ')}, but no database snapshot was taken before it`, {
          hint: 'Snapshots are taken by `osctl service upgrade`. Roll back anyway (the old code on the new schema) with --force.',
        })
      }
      if (snapshot && (await restoreIfMigrated(dbHost, snapshot)) === 'unchanged') {
        opts.reporter.emit('db.kept', {service: def.name, databases: snapshot.databases, revision: snapshot.revision}, dbHost.name)
        databaseKept = snapshot
        snapshot = undefined
      } else if (snapshot) {
        opts.reporter.emit('db.restored', {service: def.name, databases: snapshot.databases, revision: snapshot.revision}, dbHost.name)
        // A rollback standby loaded its app against the database being left; stopped, the swap
        // starts it again (a fresh load against the restored one) instead of taking it as it runs.
        await Promise.all(targets.map(async (t, i) => {
          if (steps[i].kind === 'skip') return
          const docker = ctx.session.docker(t)
          for (const c of await docker.listContainers({[LABELS.service]: def.name})) {
            if (!c.name.endsWith('.prev') || c.state !== 'running') continue
            await stopStandbyTimer(hosts[i], c.name.slice(0, -'.prev'.length))
            await docker.stopContainer(c.name)
          }
        }))
      }
    }

    const results: RestoreResult[] = []
    for (const [i, r] of restorers.entries()) {
      const step = steps[i]
      if (step.kind === 'undo') results.push(await r.undoInterrupted(def.name, step.entry.revision))
      if (step.kind === 'restore') results.push(await r.restoreTo(def.name, plans[i]!))
    }
    return {service: def.name, results, databaseRestored: snapshot, ...(databaseKept ? {databaseKept} : {}), interrupted: [...pending.values()]}
  }
}

/**
 * `service rollback nova-api`: the revision being left may only have changed nova-api (what
 * `service upgrade nova-api` writes); one that also changed other containers is the service's to undo.
 */
async function onlyThisContainer(hosts: Host[], steps: Step[], plans: Array<RestorePlan | undefined>, service: string, container: string, to: number | undefined): Promise<void> {
  for (const [i, h] of hosts.entries()) {
    const step = steps[i]
    if (step.kind === 'skip') continue
    const ledger = new Ledger(h)
    const current = plans[i]?.current ?? (await ledger.current(service))
    if (!current) continue
    const target = step.kind === 'undo' ? current : plans[i]?.target
    const leaving = step.kind === 'undo' ? await ledger.read(service, step.entry.revision) : current
    const others = (leaving?.containers ?? []).filter((c) => c.name !== container && target?.containers.find((t) => t.name === c.name)?.hash !== c.hash)
    if (others.length > 0) {
      throw new OsctlError('USAGE', `${h.name}: going from ${service} revision ${leaving!.revision} to ${target?.revision} also changes ${others.map((c) => c.name).join(', ')}, not only ${container}`, {
        location: 'SERVICE',
        hint: `Roll back the whole service: \`osctl service rollback ${service}${to ? ` --to ${to}` : ''}\`.`,
      })
    }
  }
}
