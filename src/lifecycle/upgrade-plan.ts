import {OsctlError} from '../errors.js'
import type {ServiceDef} from '../catalog/catalog.js'
import {groupHosts} from '../catalog/group-hosts.js'
import {DeployPlan, checkImages, planDeploy, type VerifyImages} from '../catalog/plan.js'
import {imageRefFor} from '../catalog/render.js'
import type {DeployContext} from '../session/deploy-context.js'
import {Journal, JournalEntry, busy} from '../revisions/journal.js'
import {Ledger} from '../revisions/ledger.js'
import {settledValue} from './settled.js'
import type {Site, SiteHost} from '../site/types.js'

export interface UpgradePlan {
  site: Site
  def: ServiceDef
  /** Rendered for the new tag; containers outside `containers` pinned to the image they run now. */
  plan: DeployPlan
  /** The revision each target host will write (one number per host, computed once). */
  revisions: Map<string, number>
  /** Operations a killed osctl left on a target host: this upgrade completes them. */
  pending: Map<string, JournalEntry>
  /** Image references to pull on every target before anything changes. */
  refs: string[]
  /** Where the schema migration runs (the group's first host), when it is a target. */
  migrationHost?: SiteHost
  databases: string[]
}

/**
 * Everything `service upgrade` decides before it changes anything, read from each target once:
 * the plan for the new tag (the registry must have it), each host's pins and next revision, and
 * what a killed run left. Another live osctl at work on a target refuses the upgrade here.
 */
export async function planUpgrade(
  ctx: Pick<DeployContext, 'site' | 'catalog' | 'overrides' | 'session'>,
  def: ServiceDef,
  targets: SiteHost[],
  opts: {tag: string; containers?: string[]; verifyImages?: VerifyImages},
): Promise<UpgradePlan> {
  const site: Site = {...ctx.site, config: {...ctx.site.config, imageTag: opts.tag}}
  const plan = planDeploy(site, ctx.catalog, ctx.overrides, {services: [def.name], targets})
  const changing = (name: string) => !opts.containers || opts.containers.includes(name)
  const digests = await (opts.verifyImages ?? checkImages)(site, onlyContainers(plan, changing))
  if (digests) plan.registryDigests = digests

  const revisions = new Map<string, number>()
  const pending = new Map<string, JournalEntry>()
  await Promise.all(
    targets.map(async (t) => {
      const host = ctx.session.host(t)
      const ledger = new Ledger(host)
      // Read-only, so all at once: the journal, the next revision number and (for pins) the current one.
      const [journal, number, pinned] = await Promise.allSettled([new Journal(host).read(def.name), ledger.nextNumber(def.name), opts.containers ? ledger.current(def.name) : undefined])
      // Another osctl at work there is the answer, whatever else could not be read.
      const found = settledValue(journal)
      if (found?.state === 'running') throw busy(t.name, found.entry)
      const [next, current] = [settledValue(number), settledValue(pinned)]
      if (found?.state === 'interrupted') pending.set(t.name, found.entry)
      revisions.set(t.name, next)
      if (!opts.containers) return
      for (const c of plan.services[0]?.rendered.get(t.name)?.containers ?? []) {
        if (!changing(c.name)) c.imageRef = current?.containers.find((x) => x.name === c.name)?.image ?? imageRefFor(ctx.site, c.image)
      }
    }),
  )
  const first = groupHosts(site, def)[0]
  const databases = plan.services[0]?.databases.map((d) => d.name) ?? []
  return {
    site,
    def,
    plan,
    revisions,
    pending,
    refs: [...new Set(def.containers.filter((c) => changing(c.name)).map((c) => imageRefFor(site, c.image)))],
    migrationHost: targets.find((t) => t.name === first?.name),
    databases,
  }
}

/** The plan restricted to the containers that change image (what the registry check looks at). */
function onlyContainers(plan: DeployPlan, changing: (name: string) => boolean): DeployPlan {
  return {
    ...plan,
    services: plan.services.map((ps) => ({...ps, rendered: new Map([...ps.rendered].map(([h, rs]) => [h, {...rs, containers: rs.containers.filter((c) => changing(c.name))}]))})),
  }
}

/** A batch of `serial` hosts at a time, in inventory order. */
export function batches<T>(targets: T[], serial: number): T[][] {
  if (serial < 1) throw new OsctlError('USAGE', `--serial must be at least 1 (got ${serial})`, {location: '--serial'})
  const out: T[][] = []
  for (let i = 0; i < targets.length; i += serial) out.push(targets.slice(i, i + serial))
  return out
}
