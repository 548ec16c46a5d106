import {OsctlError} from '../errors.js'
import type {Host} from '../hosts/host.js'
import {fanOut} from '../hosts/fan-out.js'
import {Reporter} from '../events/reporters.js'
import type {Site, SiteHost} from '../site/types.js'
import type {ServiceDef} from '../catalog/catalog.js'
import {DeployResult, deploy} from '../apply/deploy.js'
import type {DeployContext} from '../session/deploy-context.js'
import {BackupMeta, backupDatabases, carryBackup, readBackup, restoreIfMigrated} from '../revisions/db-backup.js'
import {Journal, JournalEntry, newOperationId, pendingOperations} from '../revisions/journal.js'
import {Ledger} from '../revisions/ledger.js'
import {DeployPlan, checkImages, planDeploy, serviceHosts as planServiceHosts} from '../catalog/plan.js'
import {imageRefFor} from '../catalog/render.js'
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
  opts: {
    tag: string
    serial: number
    reporter: Reporter
    verifyImages?: typeof checkImages
    /** Only these containers of the service change image (`service upgrade nova-api`); the others keep what their current revision runs. */
    containers?: string[]
  },
): Promise<UpgradeResult> {
  const {tag, serial, reporter} = opts
  const site: Site = {...ctx.site, config: {...ctx.site.config, imageTag: tag}}
  const plan = planDeploy(site, ctx.catalog, ctx.overrides, {services: [def.name], targets})
  const changing = (name: string) => !opts.containers || opts.containers.includes(name)
  // The tag must exist in the site registry before any host is touched.
  await (opts.verifyImages ?? checkImages)(site, onlyContainers(plan, changing))
  // Another osctl at work on a target refuses the upgrade; one killed in the middle is completed by it.
  const pending = await withHosts(ctx, targets, async (hosts) => {
    if (opts.containers) await pinOthers(plan, hosts, def.name, changing, ctx.site)
    return pendingOperations(hosts, def.name)
  })
  for (const e of pending.values()) reporter.emit('service.interrupted', {service: def.name, op: e.op, revision: e.revision, action: 'complete', pid: e.pid, machine: e.machine}, e.host)

  const refs = [...new Set(def.containers.filter((c) => changing(c.name)).map((c) => imageRefFor(site, c.image)))]
  const pulls = await fanOut(targets, site.config.sshConcurrency, async (t) => {
    const docker = ctx.deps.docker(t)
    try {
      for (const ref of refs) await docker.pullImage(ref, {onProgress: (p) => reporter.emit('image.pull.progress', {ref, ...p}, t.name)})
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
  reporter.emit('image.pull.done', {refs, hosts: targets.length})

  const operation = newOperationId('upgrade')
  const result: UpgradeResult = {service: def.name, tag, batches: [], upgraded: [], restored: [], deploys: []}
  // A new image may migrate the schema (its db-sync step runs on the group's first host): snapshot first.
  const migrationHost = planServiceHosts(site, def)[0]
  const databases = plan.services[0]?.databases.map((d) => d.name) ?? []
  if (databases.length > 0 && plan.databaseHost && targets.some((t) => t.name === migrationHost.name)) {
    const [first] = ctx.deps.connect([migrationHost])
    const [dbHost] = ctx.deps.connect([plan.databaseHost])
    try {
      const revision = await new Ledger(first).nextNumber(def.name)
      const earlier = await interruptedBackup(dbHost, pending.get(migrationHost.name))
      if (earlier) {
        result.backup = await carryBackup(dbHost, earlier, revision)
        reporter.emit('db.snapshot.carried', {service: def.name, databases, revision, from: earlier.revision}, dbHost.name)
      } else {
        result.backup = await backupDatabases(dbHost, def.name, databases, revision)
        reporter.emit('db.snapshot', {service: def.name, databases, revision, bytes: result.backup.bytes}, dbHost.name)
      }
    } finally {
      await Promise.all([first.close(), dbHost.close()].map((p) => p.catch(() => {})))
    }
  }
  for (let i = 0; i < targets.length; i += serial) {
    const batch = targets.slice(i, i + serial)
    const deployed = await deploy(site, {...plan, services: plan.services.map((s) => ({...s, targets: batch}))}, batch, ctx.deps, reporter, {
      op: 'upgrade',
      operation,
      backup: result.backup?.revision,
      keepJournalOnFailure: true,
    })
    result.deploys.push(deployed)
    const failed = deployed.hosts.filter((h) => !h.ok)
    result.batches.push({hosts: batch.map((b) => b.name), ok: failed.length === 0})
    result.upgraded.push(...deployed.hosts.filter((h) => h.ok).map((h) => h.host))
    if (failed.length === 0) continue

    if (result.backup && failed.some((f) => f.host === migrationHost.name)) {
      const [dbHost] = ctx.deps.connect([plan.databaseHost!])
      try {
        const done = await restoreIfMigrated(dbHost, result.backup)
        reporter.emit(done === 'restored' ? 'db.restored' : 'db.kept', {service: def.name, databases: result.backup.databases, revision: result.backup.revision}, dbHost.name)
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
        await new Journal(host).end(def.name)
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

async function withHosts<T>(ctx: Pick<DeployContext, 'deps'>, targets: SiteHost[], fn: (hosts: ReturnType<DeployContext['deps']['connect']>) => Promise<T>): Promise<T> {
  const hosts = ctx.deps.connect(targets)
  try {
    return await fn(hosts)
  } finally {
    await Promise.allSettled(hosts.map((h) => h.close()))
  }
}

/** The snapshot an interrupted upgrade took on the migration host, if any and still on the database host. */
async function interruptedBackup(dbHost: Parameters<typeof readBackup>[0], entry: JournalEntry | undefined): Promise<BackupMeta | undefined> {
  if (entry?.backup === undefined) return undefined
  return readBackup(dbHost, entry.service, entry.backup)
}

/** The plan restricted to the containers that change image (what the registry check looks at). */
function onlyContainers(plan: DeployPlan, changing: (name: string) => boolean): DeployPlan {
  return {
    ...plan,
    services: plan.services.map((ps) => ({...ps, rendered: new Map([...ps.rendered].map(([h, rs]) => [h, {...rs, containers: rs.containers.filter((c) => changing(c.name))}]))})),
  }
}

/** Containers not being upgraded keep, on each host, the image their current revision runs (the site tag when there is none). */
async function pinOthers(plan: DeployPlan, hosts: Host[], service: string, changing: (name: string) => boolean, site: Site): Promise<void> {
  for (const h of hosts) {
    const current = await new Ledger(h).current(service)
    for (const ps of plan.services) {
      for (const c of ps.rendered.get(h.name)?.containers ?? []) {
        if (!changing(c.name)) c.imageRef = current?.containers.find((x) => x.name === c.name)?.image ?? imageRefFor(site, c.image)
      }
    }
  }
}
