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
 * The time a perfect orchestrator could not beat (ms): the longest chain of service work along
 * the dependencies, with unlimited parallelism elsewhere.
 *
 * - Per host and service: its bootstrap steps one after another (they build on each other), then
 *   its containers, side by side (nothing orders them).
 * - A service waits, on every host, until each of its dependencies (`depends`, transitively) is
 *   done on all the hosts where it had work in this deploy: deploy's order. A dependency with no
 *   work here was already running.
 * - The `once` steps (migrations) come before the service's work on its other hosts, as deploy
 *   runs them on the first host before the others; those hosts need not wait for its containers.
 * - post_deploy steps wait for everything else (they run once the whole deploy converged) and for
 *   the post_deploy steps of their dependencies.
 *
 * Nothing done (a no-op deploy) is 0.
 */
export function criticalPath(timings: StepTiming[], depends: Record<string, string[]>): number {
  const main = groupNodes(timings.filter((t) => t.phase !== 'post_deploy'))
  const post = groupNodes(timings.filter((t) => t.phase === 'post_deploy'))
  const closure = dependencyClosure(depends)
  const finish = new Map<Node, number>()

  // Every dependency done on all the hosts where it had work (closure throws on a cycle, so this ends).
  const depsDone = (n: Node): number => Math.max(0, ...main.filter((o) => closure(n.service).has(o.service)).map(mainFinish))
  const mainFinish = (n: Node): number => {
    const known = finish.get(n)
    if (known !== undefined) return known
    let start = depsDone(n)
    // The migrations ran on another host first: this one starts after them (not after that host's containers).
    for (const o of main.filter((x) => x.service === n.service && x !== n && onceEnd(x) > 0)) start = Math.max(start, depsDone(o) + onceEnd(o))
    const end = start + duration(n)
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

/** Bootstrap steps in the order they ran, then the slowest container. */
function duration(n: Node): number {
  return sum(n.steps.filter((t) => t.phase === 'bootstrap')) + Math.max(0, ...n.steps.filter((t) => t.phase === 'container').map((t) => t.ms))
}

/** From a node's start to the end of its last once step; 0 when it ran none. */
function onceEnd(n: Node): number {
  const steps = n.steps.filter((t) => t.phase === 'bootstrap')
  const last = steps.map((t) => Boolean(t.once)).lastIndexOf(true)
  return sum(steps.slice(0, last + 1))
}

/** The deploy summary's line: the floor beside osctl's own wall time; undefined when nothing ran. */
export function criticalPathLine(criticalPathMs: number, wallMs: number): string | undefined {
  if (criticalPathMs <= 0) return undefined
  return `critical path ${(criticalPathMs / 1000).toFixed(1)} s (osctl ${(wallMs / 1000).toFixed(1)} s, ratio ${(wallMs / criticalPathMs).toFixed(2)})`
}
