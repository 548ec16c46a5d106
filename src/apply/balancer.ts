import {errorMessage} from '../errors.js'
import {Reporter} from '../events/reporters.js'
import {Host} from '../hosts/host.js'
import {HostSession} from '../session/host-session.js'
import type {Site} from '../site/types.js'
import {API_FRONTENDS} from '../system/load-balancer.js'

/**
 * Takes a host's API backend out of every haproxy while its container is swapped, and puts it back
 * after (the new one health-gated by the caller): clients on the VIP never reach a container that
 * is stopping or still loading. Without a VIP, or for a container no frontend serves, it only runs fn.
 */
export interface Balancer {
  around<T>(host: string, container: string, fn: () => Promise<T>): Promise<T>
}

export const noBalancer: Balancer = {around: (_host, _container, fn) => fn()}

/** The runtime API of the haproxy system container on one host; commands one per line. */
const RUNTIME = ['runc', 'exec', 'osctl-haproxy', 'socat', 'stdio', 'UNIX-CONNECT:/run/haproxy/admin.sock']
/** How long in-flight requests get to finish on a drained backend before the swap goes on. */
const DRAIN_WAIT_MS = 5000

export function balancerFor(site: Site, session: HostSession, reporter: Reporter): Balancer {
  if (!site.config.internalVip) return noBalancer
  const control = site.hosts.filter((h) => h.groups.includes('control'))
  return new HaproxyBalancer(() => control.map((h) => session.host(h)), reporter)
}

export class HaproxyBalancer implements Balancer {
  constructor(
    private readonly haproxies: () => Host[],
    private readonly reporter: Reporter,
    private readonly drainWaitMs = DRAIN_WAIT_MS,
  ) {}

  async around<T>(host: string, container: string, fn: () => Promise<T>): Promise<T> {
    const frontends = API_FRONTENDS.filter((f) => f.container === container).map((f) => f.name)
    if (frontends.length === 0) return fn()
    const lbs = this.haproxies()
    await this.set(lbs, frontends, host, 'drain')
    await this.idle(lbs, frontends, host)
    try {
      return await fn()
    } finally {
      // haproxy's own checks still gate it: a backend that is down stays out until it answers.
      await this.set(lbs, frontends, host, 'ready')
    }
  }

  /**
   * On every haproxy at once. Best effort: a control host that is down (or has no haproxy yet)
   * must not stop an upgrade; the others still drain, and the event says which did not.
   */
  private async set(lbs: Host[], frontends: string[], server: string, state: 'drain' | 'ready'): Promise<void> {
    const input = frontends.map((f) => `set server ${f}/${server} state ${state}`).join('\n') + '\n'
    await Promise.all(
      lbs.map(async (lb) => {
        try {
          const r = await lb.exec(RUNTIME, {input, timeoutMs: 10_000})
          if (r.exitCode !== 0 || /No such|Unknown|not found/i.test(r.stdout)) throw new Error((r.stderr || r.stdout).trim().split('\n').at(-1))
          this.reporter.emit('balancer.state', {server, frontends, state}, lb.name)
        } catch (err) {
          this.reporter.emit('balancer.unreachable', {server, frontends, state, error: errorMessage(err)}, lb.name)
        }
      }),
    )
  }

  /** Until no haproxy has a request in flight to the drained backend (bounded). */
  private async idle(lbs: Host[], frontends: string[], server: string): Promise<void> {
    const deadline = Date.now() + this.drainWaitMs
    for (;;) {
      const busy = await Promise.all(lbs.map((lb) => this.inFlight(lb, frontends, server)))
      if (busy.every((n) => n === 0) || Date.now() >= deadline) return
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  private async inFlight(lb: Host, frontends: string[], server: string): Promise<number> {
    const r = await lb.exec(RUNTIME, {input: 'show stat\n', timeoutMs: 10_000}).catch(() => undefined)
    if (!r || r.exitCode !== 0) return 0
    // CSV: pxname,svname,qcur,qmax,scur,...
    return r.stdout
      .split('\n')
      .map((l) => l.split(','))
      .filter((c) => frontends.includes(c[0]) && c[1] === server)
      .reduce((n, c) => n + Number(c[2] || 0) + Number(c[4] || 0), 0)
  }
}
