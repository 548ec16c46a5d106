import {dependencyClosure} from '../catalog/dependency-closure.js'

/**
 * How long one piece of a service's own work took on one host, measured where it happens: a
 * bootstrap or post_deploy step's one-shot container from its start to its exit, a service
 * container from its start (or the swap that starts it) until its health check passed. osctl's
 * own work (SSH round trips, pulls, observing, deciding) is not in it.
 */
export interface StepTiming {
  host: string
  service: string
  /** The step's name (service.yml), or the container's name for phase `container`. */
  step: string
  phase: 'bootstrap' | 'container' | 'post_deploy'
  /** A bootstrap step with `once: true`: the service's other hosts wait for it. */
  once?: boolean
  ms: number
}

interface Node {
  service: string
  host: string
  steps: StepTiming[]
}

/**
 * Per service, what a phase waits for when not all of `depends`: per bootstrap step its `needs`,
 * and its containers' `containers_need` (catalog-schema.ts).
 */
export type StepNeeds = Record<string, {steps?: Record<string, string[]>; containers?: string[]; beside?: Record<string, 'steps' | 'containers'>}>

/**
 * The time a perfect orchestrator could not beat (ms): the longest chain of service work along
 * the dependencies, with unlimited parallelism elsewhere.
 *
 * - Per host and service: its bootstrap steps one after another (they build on each other), then
 *   its containers, side by side (nothing orders them). A step `beside` the others waits only for
 *   what it needs (a keystone registration); the containers wait for it when it is beside the
 *   steps, and when it is beside the containers the service is done once it and they are (as
 *   for new containers: a swap, which waits for every step, is counted as if it did not).
 * - A dependency is done when it is done on all the hosts where it had work in this deploy (a
 *   dependency with no work here was already running). A step that `needs` some services waits
 *   for them (and what they depend on); every other step waits for all of the service's
 *   `depends`, transitively, and the containers for their `containers_need` or all of `depends`:
 *   deploy's order.
 * - The `once` steps (migrations) come before the service's work on its other hosts, as deploy
 *   runs them on the first host before the others; those hosts need not wait for its containers.
 * - post_deploy steps wait for everything else (they run once the whole deploy converged) and for
 *   the post_deploy steps of their dependencies.
 *
 * `depends`: per service, what its deploy waits for (deploy passes catalog-schema.ts waitsFor:
 * its steps' `needs` and what its containers need, so nova's chain does not run through glance).
 *
 * Nothing done (a no-op deploy) is 0.
 */
export function criticalPath(timings: StepTiming[], depends: Record<string, string[]>, needs: StepNeeds = {}): number {
  const main = groupNodes(timings.filter((t) => t.phase !== 'post_deploy'))
  const post = groupNodes(timings.filter((t) => t.phase === 'post_deploy'))
  const closure = dependencyClosure(depends)
  const finish = new Map<Node, number>()

  // When these services, and all they need, are done on every host where they had work (closure
  // throws on a cycle, so this ends).
  const doneOf = (services: Iterable<string>): number => {
    const all = new Set<string>()
    for (const s of services) for (const x of [s, ...closure(s)]) all.add(x)
    return Math.max(0, ...main.filter((o) => all.has(o.service)).map(mainFinish))
  }
  const depsDone = (n: Node) => doneOf(closure(n.service))
  const besideOf = (n: Node, t: StepTiming) => needs[n.service]?.beside?.[t.step]
  // When a step may start: once what it needs is done.
  const stepStart = (n: Node, t: StepTiming) => {
    const wanted = needs[n.service]?.steps?.[t.step]
    return wanted ? doneOf(wanted) : depsDone(n)
  }
  // From `start`, a node's bootstrap steps in order (not those beside them), each once what it needs is done: when the last ended, and when its last once step did.
  const walkSteps = (n: Node, start: number) => {
    let at = start
    let onceAt: number | undefined
    for (const t of n.steps.filter((x) => x.phase === 'bootstrap' && besideOf(n, x) === undefined)) {
      at = Math.max(at, stepStart(n, t)) + t.ms
      if (t.once) onceAt = at
    }
    return {at, onceAt}
  }
  const mainFinish = (n: Node): number => {
    const known = finish.get(n)
    if (known !== undefined) return known
    let start = 0
    // The migrations ran on another host first: this one starts after them (not after that host's containers).
    for (const o of main.filter((x) => x.service === n.service && x !== n)) start = Math.max(start, walkSteps(o, 0).onceAt ?? 0)
    const wanted = needs[n.service]?.containers
    const besideEnd = (beside: string) => n.steps.filter((t) => t.phase === 'bootstrap' && besideOf(n, t) === beside).map((t) => Math.max(start, stepStart(n, t)) + t.ms)
    const containersStart = Math.max(walkSteps(n, start).at, ...besideEnd('steps'), wanted ? doneOf(wanted) : depsDone(n))
    const end = Math.max(containersStart + Math.max(0, ...n.steps.filter((t) => t.phase === 'container').map((t) => t.ms)), ...besideEnd('containers'))
    finish.set(n, end)
    return end
  }

  const converged = Math.max(0, ...main.map(mainFinish))
  const postFinish = (n: Node): number => {
    const known = finish.get(n)
    if (known !== undefined) return known
    const deps = post.filter((o) => o !== n && closure(n.service).has(o.service))
    const end = Math.max(converged, ...deps.map(postFinish)) + sum(n.steps)
    finish.set(n, end)
    return end
  }
  return Math.round(Math.max(converged, ...post.map(postFinish)))
}

function groupNodes(timings: StepTiming[]): Node[] {
  const nodes = new Map<string, Node>()
  for (const t of timings) {
    const key = `${t.host}\u0000${t.service}`
    const n = nodes.get(key) ?? {service: t.service, host: t.host, steps: []}
    n.steps.push(t)
    nodes.set(key, n)
  }
  return [...nodes.values()]
}

const sum = (ts: StepTiming[]) => ts.reduce((s, t) => s + t.ms, 0)

/** The deploy summary's line: the floor beside osctl's own wall time; undefined when nothing ran. */
export function criticalPathLine(criticalPathMs: number, wallMs: number): string | undefined {
  if (criticalPathMs <= 0) return undefined
  return `critical path ${(criticalPathMs / 1000).toFixed(1)} s (osctl ${(wallMs / 1000).toFixed(1)} s, ratio ${(wallMs / criticalPathMs).toFixed(2)})`
}
