import {OsctlError} from '../errors.js'
import {fanOut} from '../hosts/fan-out.js'
import type {SiteHost} from '../site/types.js'
import {probeHealth} from '../apply/container-health.js'
import {LABELS} from '../catalog/container-spec.js'
import {isSwapSpare} from '../apply/container-swap.js'
import type {DeployContext} from '../session/deploy-context.js'
import {Journal, JournalEntry} from '../revisions/journal.js'
import {Ledger} from '../revisions/ledger.js'

export interface ServiceRow {
  host: string
  service: string
  container: string
  image: string
  revision: number
  /** Docker's state: running, exited, created … */
  state: string
  healthy?: boolean
  detail?: string
}

export interface HostError {
  host: string
  error: ReturnType<OsctlError['toJSON']>
}

/**
 * What runs where, from each host's engine (containers labelled by osctl) and, with `health`,
 * probed from the host with the health check recorded in the service's current revision.
 */
export async function serviceRows(
  ctx: DeployContext,
  opts: {name?: string; health: boolean; hosts?: SiteHost[]},
): Promise<{rows: ServiceRow[]; errors: HostError[]; interrupted: Array<JournalEntry & {state: 'running' | 'interrupted'}>}> {
  const targets = opts.hosts ?? ctx.targets
  {
    const results = await fanOut(targets, ctx.site.config.sshConcurrency, async (t) => {
      const host = ctx.session.host(t)
      const docker = ctx.session.docker(t)
      const containers = (await docker.listContainers({[LABELS.managed]: 'true', [LABELS.service]: ''})).filter((c) => !c.labels[LABELS.bootstrap] && !isSwapSpare(c.name))
      const wanted = containers.filter((c) => !opts.name || c.name === opts.name || c.labels[LABELS.service] === opts.name)
      const ledger = new Ledger(host)
      const pending = (await new Journal(host).list()).filter((f) => f.state !== 'mine' && (!opts.name || f.entry.service === opts.name || wanted.some((c) => c.labels[LABELS.service] === f.entry.service)))
      const rows: ServiceRow[] = []
      for (const c of wanted.sort((a, b) => a.name.localeCompare(b.name))) {
        const service = c.labels[LABELS.service]
        const row: ServiceRow = {host: t.name, service, container: c.name, image: c.labels[LABELS.image] ?? c.image, revision: Number(c.labels[LABELS.revision] ?? 0), state: c.state}
        if (opts.health) {
          const spec = (await ledger.current(service))?.containers.find((x) => x.name === c.name)?.spec
          if (c.state !== 'running') Object.assign(row, {healthy: false, detail: `container is ${c.state}`})
          else if (!spec) Object.assign(row, {healthy: false, detail: 'no ledger record for this container'})
          else {
            const h = await probeHealth(host, spec.health, {docker, container: c.name})
            Object.assign(row, {healthy: h.healthy, detail: h.detail})
          }
        }
        rows.push(row)
      }
      return {rows, pending: pending.map((f) => ({...f.entry, state: f.state as 'running' | 'interrupted'}))}
    })
    return {
      rows: results.flatMap((r) => r.value?.rows ?? []),
      interrupted: results.flatMap((r) => r.value?.pending ?? []),
      errors: results.filter((r) => !r.ok).map((r) => ({host: r.host, error: r.error!.toJSON()})),
    }
  }
}

export function formatServiceRows(rows: ServiceRow[], health: boolean): string[] {
  const head = ['HOST', 'SERVICE', 'CONTAINER', 'REV', 'STATE', ...(health ? ['HEALTH'] : ['IMAGE'])]
  const body = rows.map((r) => [r.host, r.service, r.container, String(r.revision), r.state, health ? `${r.healthy ? 'healthy' : 'UNHEALTHY'} (${r.detail})` : r.image])
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((row) => row[i].length)))
  return [head, ...body].map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  '))
}

/** A NAME that is neither a known service nor a container of one is a usage error, before any host is asked. */
export function checkServiceName(ctx: DeployContext, name: string): void {
  const names = ctx.catalog.services.flatMap((s) => [s.name, ...s.containers.map((c) => c.name)])
  if (names.includes(name)) return
  throw new OsctlError('USAGE', `unknown service or container ${name}`, {location: 'NAME', hint: `known: ${[...new Set(names)].join(', ')}`})
}
