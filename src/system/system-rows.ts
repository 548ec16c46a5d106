import {contextFor, systemContainersFor} from '../bootstrap/system-context.js'
import {HostResult, fanOut} from '../hosts/fan-out.js'
import {SiteContext} from '../session/site-context.js'
import {probe} from './health.js'
import {SystemManager} from './manager.js'

export interface SystemRow {
  host: string
  name: string
  revision?: number
  image?: string
  active: string
  previousRevision?: number
  healthy?: boolean
  health?: string
  error?: string
}

/** One row per (host, system container the host should run), gathered in parallel. */
export async function systemRows(ctx: SiteContext, opts: {name?: string; health: boolean}): Promise<{rows: SystemRow[]; results: Array<HostResult<SystemRow[]>>}> {
  const targets = ctx.targets.filter((t) => systemContainersFor(ctx.site, t).some((d) => !opts.name || d.name === opts.name))
  const hosts = ctx.session.hostsFor(targets)
  {
    const results = await fanOut(targets, ctx.site.config.sshConcurrency, async (t) => {
      const host = hosts[targets.indexOf(t)]
      const rows: SystemRow[] = []
      for (const def of systemContainersFor(ctx.site, t).filter((d) => !opts.name || d.name === opts.name)) {
        const st = await new SystemManager(host).state(def.name)
        const row: SystemRow = {host: t.name, name: def.name, revision: st.current?.revision, image: st.current?.image, active: st.active, previousRevision: st.previous?.revision}
        if (opts.health) {
          const p = await probe(host, def.health(contextFor(ctx.site, t, def)))
          row.healthy = p.healthy
          row.health = p.detail
        }
        rows.push(row)
      }
      return rows
    })
    return {results, rows: results.flatMap((r) => (r.ok ? r.value! : [{host: r.host, name: opts.name ?? '*', active: 'unknown', error: r.error?.headline}]))}
  }
}

export function formatRows(rows: SystemRow[]): string[] {
  const out = ['HOST             NAME       REV  ACTIVE     HEALTH     PREV  IMAGE']
  for (const r of rows) {
    const health = r.error ? 'unreachable' : r.healthy === undefined ? '-' : r.healthy ? 'healthy' : 'unhealthy'
    out.push(`${r.host.padEnd(16)} ${r.name.padEnd(10)} ${String(r.revision ?? '-').padEnd(4)} ${r.active.padEnd(10)} ${health.padEnd(10)} ${String(r.previousRevision ?? '-').padEnd(5)} ${r.image ?? r.error ?? ''}`)
  }
  return out
}
