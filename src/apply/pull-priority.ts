import {startsAfter} from '../catalog/catalog-schema.js'
import type {DeployPlan} from '../catalog/plan.js'
import {PullRank, compareRanks} from './pull-queue.js'
import {workAhead} from './work-ahead.js'

/**
 * Per host, per image ref it runs: its place in the deploy's pull queue, from the dependency graph
 * deploy runs (run-graph.ts), which critical-path.ts measures too:
 *
 * 1. the service's place in the order deploy would start the services in with a free slot for
 *    each: after every service it starts after (what its first bootstrap step `needs`, else all
 *    it depends on), and among those that could come next the one with the most work ahead
 *    (work-ahead.ts), plan order on a tie. keystone's image comes right after mariadb's (its
 *    migrations need only mariadb, and every API registers in it), before memcached's and
 *    rabbitmq's, which nothing needs as early: the pulls are one at a time per host, and an image
 *    on openstack-base after them came seconds after mariadb was up;
 * 2. within the service, when its hosts wait for each other: a clustered service changes one host
 *    at a time (its position), one with `once` bootstrap steps runs them on its first host before
 *    the others (1 for the others); else 0;
 * 3. the service's place in the plan (dependency order).
 *
 * An image several services run on a host takes the earliest of their ranks.
 */
export function pullRanks(plan: DeployPlan, ahead: Map<string, number> = workAhead(plan.services.map((ps) => ps.def))): Map<string, Map<string, PullRank>> {
  const inPlan = new Set(plan.services.map((ps) => ps.def.name))
  const place = new Map<string, number>()
  const pending = [...plan.services]
  while (pending.length > 0) {
    const ready = pending.filter((ps) => startsAfter(ps.def).every((d) => !inPlan.has(d) || place.has(d)))
    // (A cycle is refused when the catalog loads: `pending` only keeps a bad plan from looping.)
    const next = (ready.length > 0 ? ready : pending).reduce((a, b) => ((ahead.get(b.def.name) ?? 0) > (ahead.get(a.def.name) ?? 0) ? b : a))
    place.set(next.def.name, place.size)
    pending.splice(pending.indexOf(next), 1)
  }
  const ranks = new Map<string, Map<string, PullRank>>()
  plan.services.forEach((ps, index) => {
    const once = ps.def.bootstrap.some((b) => b.once)
    ps.hosts.forEach((h, position) => {
      const rs = ps.rendered.get(h.name)
      if (!rs) return
      const wait = ps.def.cluster ? position : once && position > 0 ? 1 : 0
      const rank: PullRank = [place.get(ps.def.name)!, wait, index]
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
