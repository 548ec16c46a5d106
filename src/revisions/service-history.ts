import {HostResult, fanOut} from '../hosts/fan-out.js'
import type {Host} from '../hosts/host.js'
import {Journal, JournalFinding} from './journal.js'
import {Ledger, RevisionRecord, listRevisions} from './ledger.js'

export interface HostHistory {
  host: string
  current?: number
  revisions: Array<
    Pick<RevisionRecord, 'revision' | 'previous' | 'createdAt' | 'createdBy' | 'outcome' | 'error'> & {
      images: string[]
      changed: string[]
      /** Each container's image reference and the image id (digest) it resolved to. */
      containers: Array<{name: string; image: string; imageId: string}>
    }
  >
  error?: string
}

/**
 * The ledger of a service on each host (optionally narrowed to one of its containers), and any
 * operation a killed osctl left in its journal there (`onPending`).
 */
export async function serviceHistory(hosts: Host[], service: string, opts: {container?: string; concurrency: number; onPending?: (f: JournalFinding) => void}): Promise<{hosts: HostHistory[]; results: Array<HostResult<HostHistory>>}> {
  const only = <T extends {name: string}>(cs: T[]) => cs.filter((c) => !opts.container || c.name === opts.container)
  const results = await fanOut(hosts, opts.concurrency, async (h): Promise<HostHistory> => {
    const records = await listRevisions(h, service)
    const pending = await new Journal(h).read(service)
    if (pending && pending.state !== 'mine') opts.onPending?.(pending)
    return {
      host: h.name,
      current: await new Ledger(h).currentNumber(service),
      revisions: records.map((r) => ({
        revision: r.revision,
        previous: r.previous,
        createdAt: r.createdAt,
        createdBy: r.createdBy,
        outcome: r.outcome,
        error: r.error,
        images: [...new Set(only(r.containers).map((c) => c.image))],
        changed: [...new Set(r.containers.flatMap((c) => c.changed.map((x) => `${c.name}:${x}`)))],
        containers: only(r.containers).map((c) => ({name: c.name, image: c.image, imageId: c.imageId})),
      })),
    }
  })
  return {hosts: results.map((r) => r.value ?? {host: r.host, revisions: [], error: r.error?.headline}), results}
}

export function formatHistory(hosts: HostHistory[], container?: string): string[] {
  const out: string[] = []
  for (const h of hosts) {
    out.push(`${h.host}${h.error ? `: ${h.error}` : ':'}`)
    if (h.error) continue
    out.push(`  REV  OUTCOME      CREATED                   BY                    ${container ? 'IMAGE' : 'CHANGED'}`)
    for (const r of h.revisions) {
      const mark = r.revision === h.current ? '*' : ' '
      const last = container ? r.containers.map((c) => `${c.image} (${c.imageId.slice(7, 19)})`).join(', ') : r.changed.join(', ') || '-'
      out.push(`${mark} ${String(r.revision).padEnd(4)} ${r.outcome.padEnd(12)} ${r.createdAt.padEnd(25)} ${r.createdBy.slice(0, 20).padEnd(21)} ${last}`)
    }
  }
  return out
}
