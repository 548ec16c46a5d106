import {OsctlError} from '../errors.js'
import {fanOut} from '../hosts/fan-out.js'
import {Reporter} from '../reporter.js'
import type {Site, SiteHost} from '../site/types.js'
import type {ServiceDef} from './catalog.js'
import {DeployResult, deploy} from './deploy.js'
import type {DeployContext} from './deploy-context.js'
import {BackupMeta, backupDatabases, restoreDatabases} from './db-backup.js'
import {Ledger} from './ledger.js'
import {checkImages, planDeploy, serviceHosts as planServiceHosts} from './plan.js'
import {imageRefFor} from './render.js'
import {RestoreResult, RevisionRestorer} from './revision-restore.js'

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

/**
 * One service to another image tag: the image is pulled on every target host first (nothing stops
 * while pulling), then hosts change in batches of `serial`, each health-gated by deploy. A batch
 * that fails is put back on the revision its ledger still calls current, the rest are not touched,
 * and the error says so (exit 4).
 */
export async function upgradeService(
  ctx: Pick<DeployContext, 'site' | 'catalog' | 'overrides' | 'deps'>,
  def: ServiceDef,
  targets: SiteHost[],
  opts: {tag: string; serial: number; reporter: Reporter; verifyImages?: typeof checkImages},
): Promise<UpgradeResult> {
  const {tag, serial, reporter} = opts
  const site: Site = {...ctx.site, config: {...ctx.site.config, imageTag: tag}}
  const plan = planDeploy(site, ctx.catalog, ctx.overrides, {services: [def.name], targets})
  // The tag must exist in the site registry before any host is touched.
  await (opts.verifyImages ?? checkImages)(site, plan)

  const refs = [...new Set(def.containers.map((c) => imageRefFor(site, c.image)))]
  const pulls = await fanOut(targets, site.config.sshConcurrency, async (t) => {
    const docker = ctx.deps.docker(t)
    try {
      for (const ref of refs) await docker.pullImage(ref)
    } finally {
      await docker.close?.()
    }
  })
  const notPulled = pulls.filter((p) => !p.ok)
  if (notPulled.length) {
    throw new OsctlError('COMMAND_FAILED', `pulling ${refs.join(', ')} failed on ${notPulled.map((p) => p.host).join(', ')}: ${notPulled[0].error?.message}`, {
      hint: 'Nothing was changed on any host.',
    })
  }
  reporter.emit({subject: def.name, status: 'ok', message: `${refs.join(', ')} pulled on ${targets.length} host(s)`})

  const result: UpgradeResult = {service: def.name, tag, batches: [], upgraded: [], restored: [], deploys: []}
  // A new image may migrate the schema (its db-sync step runs on the group's first host): snapshot first.
  const migrationHost = planServiceHosts(site, def)[0]
  const databases = plan.services[0]?.databases.map((d) => d.name) ?? []
  if (databases.length > 0 && plan.databaseHost && targets.some((t) => t.name === migrationHost.name)) {
    const [first] = ctx.deps.connect([migrationHost])
    const [dbHost] = ctx.deps.connect([plan.databaseHost])
    try {
      const revision = await new Ledger(first).nextNumber(def.name)
      result.backup = await backupDatabases(dbHost, def.name, databases, revision)
      reporter.emit({host: dbHost.name, subject: def.name, status: 'ok', message: `databases ${databases.join(', ')} saved before revision ${revision} (${result.backup.bytes} bytes)`})
    } finally {
      await Promise.all([first.close(), dbHost.close()].map((p) => p.catch(() => {})))
    }
  }
  for (let i = 0; i < targets.length; i += serial) {
    const batch = targets.slice(i, i + serial)
    const deployed = await deploy(site, {...plan, services: plan.services.map((s) => ({...s, targets: batch}))}, batch, ctx.deps, reporter)
    result.deploys.push(deployed)
    const failed = deployed.hosts.filter((h) => !h.ok)
    result.batches.push({hosts: batch.map((b) => b.name), ok: failed.length === 0})
    result.upgraded.push(...deployed.hosts.filter((h) => h.ok).map((h) => h.host))
    if (failed.length === 0) continue

    if (result.backup && failed.some((f) => f.host === migrationHost.name)) {
      const [dbHost] = ctx.deps.connect([plan.databaseHost!])
      try {
        await restoreDatabases(dbHost, result.backup)
        reporter.emit({host: dbHost.name, subject: def.name, status: 'changed', message: `databases ${result.backup.databases.join(', ')} restored to before revision ${result.backup.revision}`})
      } finally {
        await dbHost.close().catch(() => {})
      }
    }
    for (const f of failed) {
      const siteHost = batch.find((b) => b.name === f.host)!
      const [host] = ctx.deps.connect([siteHost])
      const docker = ctx.deps.docker(siteHost)
      try {
        const failedRevision = deployed.services.find((s) => s.host === f.host)?.revision ?? 0
        result.restored.push(await new RevisionRestorer(host, docker, reporter).reapplyCurrent(def.name, failedRevision))
      } finally {
        await host.close().catch(() => {})
        await docker.close?.()
      }
    }
    const left = targets.slice(i + serial).map((t) => t.name)
    throw new OsctlError('ROLLED_BACK', `${def.name} ${tag} failed on ${failed.map((f) => `${f.host} (${f.error?.message})`).join('; ')}; restored the previous revision there${left.length ? `; not touched: ${left.join(', ')}` : ''}${result.upgraded.length ? `; already upgraded: ${result.upgraded.join(', ')}` : ''}`, {
      details: result,
      hint: `See \`osctl service logs ${def.name}\`; \`osctl service history ${def.name}\` shows the failed revision.`,
    })
  }
  return result
}
