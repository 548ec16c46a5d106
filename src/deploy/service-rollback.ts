import {OsctlError} from '../errors.js'
import {Reporter} from '../reporter.js'
import type {SiteHost} from '../site/types.js'
import type {ServiceDef} from './catalog.js'
import {BackupMeta, readBackup, restoreDatabases} from './db-backup.js'
import type {DeployContext} from './deploy-context.js'
import {Ledger} from './ledger.js'
import {serviceHosts as planServiceHosts} from './plan.js'
import {RestoreResult, RevisionRestorer} from './revision-restore.js'

export interface RollbackResult {
  service: string
  results: RestoreResult[]
  /** The snapshot restored, when the revision being left had migrated the databases. */
  databaseRestored?: BackupMeta
}

/**
 * Every host is checked before anything changes. When the revision being left changed the image of
 * a service with databases, its schema may have been migrated: the snapshot taken before it is
 * restored first, and without one the rollback is refused unless forced.
 */
export async function rollbackService(ctx: DeployContext, def: ServiceDef, targets: SiteHost[], opts: {to?: number; force: boolean; reporter: Reporter}): Promise<RollbackResult> {
  const hosts = ctx.deps.connect(targets)
  const dockers = targets.map((t) => ctx.deps.docker(t))
  const closers: Array<() => Promise<unknown>> = [...hosts.map((h) => () => h.close()), ...dockers.map((d) => async () => d.close?.())]
  try {
    const restorers = hosts.map((h, i) => new RevisionRestorer(h, dockers[i], opts.reporter))
    for (const r of restorers) await r.target(def.name, opts.to)

    let snapshot: BackupMeta | undefined
    const mariadb = ctx.catalog.get('mariadb')
    const migrationHost = planServiceHosts(ctx.site, def)[0]
    const firstIdx = targets.findIndex((t) => t.name === migrationHost.name)
    if (def.databases.length > 0 && mariadb && firstIdx >= 0) {
      const leaving = (await new Ledger(hosts[firstIdx]).current(def.name))!
      const [dbHost] = ctx.deps.connect([planServiceHosts(ctx.site, mariadb)[0]])
      closers.push(() => dbHost.close())
      snapshot = await readBackup(dbHost, def.name, leaving.revision)
      const imageChanged = leaving.containers.some((c) => c.changed.includes('image') || c.changed.includes('new'))
      if (!snapshot && imageChanged && leaving.previous !== undefined && !opts.force) {
        throw new OsctlError('USAGE', `${def.name} revision ${leaving.revision} changed the image and may have migrated ${def.databases.map((d) => d.name).join(', ')}, but no database snapshot was taken before it`, {
          hint: 'Snapshots are taken by `osctl service upgrade`. Roll back anyway (the old code on the new schema) with --force.',
        })
      }
      if (snapshot) {
        await restoreDatabases(dbHost, snapshot)
        opts.reporter.emit({host: dbHost.name, subject: def.name, status: 'changed', message: `databases ${snapshot.databases.join(', ')} restored to before revision ${snapshot.revision}`})
      }
    }

    const results: RestoreResult[] = []
    for (const r of restorers) results.push(await r.restore(def.name, opts.to))
    return {service: def.name, results, databaseRestored: snapshot}
  } finally {
    await Promise.all(closers.map((c) => c().catch(() => {})))
  }
}
