import {type ServiceFile, containersNeed, waitsFor} from '../catalog/catalog-schema.js'
import {dependencyClosure} from '../catalog/dependency-closure.js'

/** A bootstrap step, and a container from its start until healthy, without `expected_seconds`: rough seconds. */
export const STEP_SECONDS = 5
export const CONTAINERS_SECONDS = 10

type Def = Pick<ServiceFile, 'name' | 'depends'> & Partial<Pick<ServiceFile, 'containers_need'>> & {
  bootstrap: Array<{needs?: string[]; expected_seconds?: number; beside?: 'steps' | 'containers'}>
  containers: Array<{expected_seconds?: number}>
}

/**
 * Per service: the seconds of work from its start to the end of the longest chain that waits for
 * it (its own steps and containers, then the rest of the dependent that waits longest, and so on),
 * estimated from the catalog (`expected_seconds` of a step or container, else STEP_SECONDS and
 * CONTAINERS_SECONDS; a service's containers start side by side: the slowest counts). deploy
 * gives a free slot to the ready service with the most work ahead, and pulls images in the same
 * order (pull-priority.ts): the classic list-scheduling rule
 * (longest path first). keystone, which every API registers in, goes before glance, placement and
 * nova; rabbitmq's 20 s start before the APIs that only need it for their containers.
 *
 * A dependent waits from its first step that needs the service (a step's `needs`, and what they
 * depend on; a step without `needs` waits for all of `depends`, transitively, the containers for
 * `containers_need` or all of `depends`),
 * as deploy and criticalPath run it. Only the services in `defs` count.
 */
export function workAhead(defs: Def[]): Map<string, number> {
  const inRun = new Map(defs.map((d) => [d.name, d]))
  // What a service's being done implies done (waitsFor: its steps' needs and its containers' need).
  const closure = dependencyClosure(Object.fromEntries(defs.map((d) => [d.name, waitsFor(d)])))
  const step = (d: Def, b: Def['bootstrap'][number]) => ({seconds: b.expected_seconds ?? STEP_SECONDS, waits: b.needs ?? d.depends})
  // Side by side: the slowest to become healthy.
  const containers = (d: Def) => ({seconds: Math.max(...d.containers.map((c) => c.expected_seconds ?? CONTAINERS_SECONDS)), waits: containersNeed(d)})
  const phases = (d: Def) => [...d.bootstrap.filter((b) => b.beside === undefined).map((b) => step(d, b)), containers(d)]
  // Steps `beside` the others: each its own chain from when it may start, through the containers
  // when they wait for it (beside the steps), else alone (beside the containers).
  const besides = (d: Def) =>
    d.bootstrap.flatMap((b) => {
      if (b.beside === undefined) return []
      const s = step(d, b)
      return [{...s, beside: b.beside, chain: s.seconds + (b.beside === 'steps' ? containers(d).seconds : 0)}]
    })
  const own = (d: Def) => {
    const steps = Math.max(sum(phases(d).slice(0, -1)), ...besides(d).filter((b) => b.beside === 'steps').map((b) => b.seconds))
    return Math.max(steps + containers(d).seconds, ...besides(d).map((b) => b.chain))
  }
  const waitsOn = (p: {waits: string[]}, s: string) => p.waits.some((w) => w === s || closure(w).has(s))
  const memo = new Map<string, number>()
  const ahead = (s: string): number => {
    const known = memo.get(s)
    if (known !== undefined) return known
    let downstream = 0
    for (const d of defs) {
      if (d.name === s) continue
      // A dependent's chain from its first phase that waits for `s` on (closure refuses cycles, so this ends).
      const i = phases(d).findIndex((p) => waitsOn(p, s))
      if (i >= 0) downstream = Math.max(downstream, sum(phases(d).slice(i)) + after(d.name))
      for (const b of besides(d).filter((p) => waitsOn(p, s))) downstream = Math.max(downstream, b.chain + after(d.name))
    }
    const total = own(inRun.get(s)!) + downstream
    memo.set(s, total)
    return total
  }
  // What waits for `s` once it is done: the longest dependent chain.
  const after = (s: string) => ahead(s) - own(inRun.get(s)!)
  for (const d of defs) ahead(d.name)
  return memo
}

const sum = (ps: Array<{seconds: number}>) => ps.reduce((n, p) => n + p.seconds, 0)
