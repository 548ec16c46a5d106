import {startsAfter} from '../catalog/catalog-schema.js'
import type {DeployPlan} from '../catalog/plan.js'
import {PullRank, compareRanks} from './pull-queue.js'
import {workAhead} from './work-ahead.js'

/**
 * Per host, per image ref it runs: its place in the deploy's pull queue, from the dependency graph
 * deploy runs (run-graph.ts), which critical-path.ts measures too:
 *
 * 1. the service's depth: 0 when none of the services it starts after is deployed in this run,
 *    else one more than the deepest of them. It starts after what its first bootstrap step
 *    `needs`, else after all it depends on (mariadb, memcached, rabbitmq 0; keystone, glance,
 *    placement and nova 1, their db syncs needing only mariadb; nova-compute 2): a deeper one's
 *    image is needed later;
 * 2. within the service, when its hosts wait for each other: a clustered service changes one host
 *    at a time (its position), one with `once` bootstrap steps runs them on its first host before
 *    the others (1 for the others); else 0;
 * 3. the most work ahead first (work-ahead.ts: keystone, which the others register in, before
 *    glance, placement and nova), as deploy hands out its slots;
 * 4. the service's place in the plan (dependency order).
 *
 * An image several services run on a host takes the earliest of their ranks.
 */
export function pullRanks(plan: DeployPlan, ahead: Map<string, number> = workAhead(plan.services.map((ps) => ps.def))): Map<string, Map<string, PullRank>> {
  const inPlan = new Map(plan.services.map((ps) => [ps.def.name, ps]))
  const depth = new Map<string, number>()
  const depthOf = (name: string, path: string[] = []): number => {
    const known = depth.get(name)
    if (known !== undefined) return known
    // A cycle is refused when the catalog loads; this only keeps a bad plan from recursing forever.
    if (path.includes(name)) return 0
    const deps = startsAfter(inPlan.get(name)!.def).filter((d) => inPlan.has(d))
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => depthOf(x, [...path, name])))
    depth.set(name, d)
    return d
  }
  const ranks = new Map<string, Map<string, PullRank>>()
  plan.services.forEach((ps, index) => {
    const once = ps.def.bootstrap.some((b) => b.once)
    ps.hosts.forEach((h, position) => {
      const rs = ps.rendered.get(h.name)
      if (!rs) return
      const wait = ps.def.cluster ? position : once && position > 0 ? 1 : 0
      const rank: PullRank = [depthOf(ps.def.name), wait, -(ahead.get(ps.def.name) ?? 0), index]
      const byRef = ranks.get(h.name) ?? new Map<string, PullRank>()
      ranks.set(h.name, byRef)
      for (const c of rs.containers) {
        const had = byRef.get(c.imageRef)
        if (!had || compareRanks(rank, had) < 0) byRef.set(c.imageRef, rank)
      }
    })
  })
  return ranks
}
