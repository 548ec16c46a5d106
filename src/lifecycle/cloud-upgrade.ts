import {throwIfInterrupted} from '../cli/interrupt.js'
import {OsctlError, errorMessage} from '../errors.js'
import type {Reporter} from '../events/reporters.js'
import type {ServiceDef} from '../catalog/catalog.js'
import {checkImages, planDeploy, type VerifyImages} from '../catalog/plan.js'
import {imageRefFor} from '../catalog/render.js'
import {serviceHosts} from '../catalog/service-hosts.js'
import {Ledger, RevisionRecord} from '../revisions/ledger.js'
import type {DeployContext} from '../session/deploy-context.js'
import type {Site} from '../site/types.js'
import {ReadLabels, ReleaseCheck, checkCloudRelease} from './cloud-releases.js'
import {upgradeService} from './service-upgrade.js'

export interface CloudUpgradeResult extends ReleaseCheck {
  tag: string
  services: Array<{service: string; hosts: string[]; status: 'upgraded' | 'already' | 'not-deployed' | 'failed' | 'not-started'; revisions?: number[]; error?: string}>
}

/**
 * `osctl upgrade --tag T`: every deployed service to the new tag, one service at a time in
 * kolla's order (upgradeOrder: infrastructure, keystone, glance, placement, nova, then its
 * computes; within a service its containers in their order, so nova-api before conductor and
 * scheduler), each by `upgradeService` (pulled first, snapshot, batches of --serial, health-gated).
 * Checked before any host changes: every image exists, the release step is allowed. The first
 * failure is rolled back by upgradeService and ends the run (its exit code, 4 when rolled back);
 * services before it stay upgraded and are reported. A service already on the tag everywhere is
 * left alone, so running the command again after a fix resumes where it stopped.
 */
export async function upgradeCloud(
  ctx: DeployContext,
  opts: {tag: string; serial: number; reporter: Reporter; verifyImages?: VerifyImages; readLabels?: ReadLabels},
): Promise<CloudUpgradeResult> {
  const {reporter, tag} = opts
  const site: Site = {...ctx.site, config: {...ctx.site.config, imageTag: tag}}
  const enabled = new Set(ctx.site.config.enabledServices)
  const candidates = upgradeOrder(ctx.catalog.services).filter((d) => enabled.has(d.name)).map((def) => ({def, hosts: serviceHosts(ctx, def)})).filter((s) => s.hosts.length > 0)
  // Each service's revision in force on each of its hosts, read once: what is deployed, and what is already on the tag.
  const all = await Promise.all(candidates.map(async (c) => ({...c, current: await Promise.all(c.hosts.map((h) => new Ledger(ctx.session.host(h)).current(c.def.name)))})))
  const order = all.filter((s) => s.current.some((r) => r !== undefined))
  if (order.length === 0) throw new OsctlError('USAGE', 'no service is deployed on the selected hosts', {location: '--limit', hint: 'deploy first (`osctl deploy`), or widen --limit'})

  const plan = planDeploy(site, ctx.catalog, ctx.overrides, {services: order.map((s) => s.def.name), targets: ctx.targets})
  await (opts.verifyImages ?? checkImages)(site, plan)
  const release = await checkCloudRelease(site, plan, ctx.targets, ctx.session, opts.readLabels)
  reporter.emit('upgrade.release', {tag, ...release})

  const result: CloudUpgradeResult = {
    tag,
    ...release,
    services: all.map(({def, hosts}) => ({service: def.name, hosts: hosts.map((h) => h.name), status: order.some((o) => o.def === def) ? 'not-started' : 'not-deployed'})),
  }
  for (const {def, hosts, current} of order) {
    const entry = result.services.find((s) => s.service === def.name)!
    if (onTag(site, def, current)) {
      entry.status = 'already'
      reporter.emit('upgrade.service.done', {service: def.name, tag, status: 'already'})
      continue
    }
    throwIfInterrupted(`upgrading the cloud to ${tag} before ${def.name}${upgradedSoFar(result)}`)
    reporter.emit('upgrade.service.start', {service: def.name, tag, hosts: entry.hosts})
    try {
      const up = await upgradeService(ctx, def, hosts, {tag, serial: opts.serial, reporter, verifyImages: async () => {}})
      entry.status = 'upgraded'
      entry.revisions = up.deploys.flatMap((d) => d.services.map((s) => s.revision))
      reporter.emit('upgrade.service.done', {service: def.name, tag, status: 'upgraded'})
    } catch (error) {
      entry.status = 'failed'
      entry.error = errorMessage(error)
      const left = result.services.filter((s) => s.status === 'not-started').map((s) => s.service)
      const cause = error instanceof OsctlError ? error : undefined
      throw new OsctlError(cause?.code ?? 'COMMAND_FAILED', `upgrade to ${tag} stopped at ${def.name}: ${entry.error}${upgradedSoFar(result)}${left.length ? `; not started: ${left.join(', ')}` : ''}`, {
        exitCode: cause?.exitCode,
        cause: error,
        details: result,
        hint: `${cause?.hint ? `${cause.hint.replace(/\.$/, '')}. ` : ''}After fixing it, run the same \`osctl upgrade --tag ${tag}\` again: services already on ${tag} are skipped.`,
      })
    }
  }
  return result
}

/**
 * Kolla's upgrade order: by depth in the dependency graph (infrastructure first, then keystone,
 * then what needs keystone …), ties by name. The catalog lists services in dependency order, so
 * each one's dependencies have their depth already.
 */
export function upgradeOrder(services: ServiceDef[]): ServiceDef[] {
  const depth = new Map<string, number>()
  for (const s of services) depth.set(s.name, Math.max(-1, ...s.depends.map((d) => depth.get(d) ?? -1)) + 1)
  return [...services].sort((a, b) => depth.get(a.name)! - depth.get(b.name)! || a.name.localeCompare(b.name))
}

function upgradedSoFar(result: CloudUpgradeResult): string {
  const done = result.services.filter((s) => s.status === 'upgraded').map((s) => s.service)
  return done.length ? `; upgraded: ${done.join(', ')}` : ''
}

/** Every container of the service runs the tag's image in the current revision of every host. */
function onTag(site: Site, def: ServiceDef, current: Array<RevisionRecord | undefined>): boolean {
  const want = new Map(def.containers.map((c) => [c.name, imageRefFor(site, c.image)]))
  return current.every((rec) => rec !== undefined && rec.outcome === 'active' && [...want].every(([name, ref]) => rec.containers.find((c) => c.name === name)?.image === ref))
}
