import {hostname} from 'node:os'
import {posix} from 'node:path'

import {errorMessage} from '../errors.js'
import {Reporter} from '../events/reporters.js'
import {Host} from '../hosts/host.js'
import {HostSession} from '../session/host-session.js'
import {passwordAuthBody} from '../ops/openstack-api.js'
import {urlHost} from '../site/internal-address.js'
import type {Site} from '../site/types.js'
import {LOCK_ROOT} from '../revisions/host-locks.js'
import {describeProcess, journalState, thisProcess} from '../revisions/journal.js'
import {siteLockHeld} from '../session/site-lock-state.js'
import {API_FRONTENDS, haproxyServers} from '../system/load-balancer.js'
import {DEFAULT_CPU_SHARES, WARM_UP_CPU_SHARES} from './container-swap.js'

/**
 * Takes a host's API backend out of every haproxy while its container is swapped, and puts it back
 * after (the new one health-gated by the caller, then warmed up): clients on the VIP never reach a
 * container that is stopping, still loading, or whose workers have not yet answered a request.
 * Without a VIP, or for a container no frontend serves, it only runs fn.
 */
export interface Balancer {
  around<T>(host: string, container: string, fn: () => Promise<T>): Promise<T>
  /**
   * Around a stop (`service stop`): drained and given its in-flight requests' time like a swap,
   * then marked down in every haproxy and set ready again, so no new request reaches it until
   * haproxy's own checks see it answer (whoever starts it next: `service start`, a deploy, an
   * operator's `systemctl start`). Also when `fn` failed: a container that still runs is back
   * after two passing checks (about 2 s), one that is gone never takes a request.
   */
  out<T>(host: string, container: string, fn: () => Promise<T>): Promise<T>
  /**
   * `found`: LOCK_ROOT of haproxy hosts as deploy's observation read it. A drain marker there whose
   * osctl is gone (killed mid-drain: SIGKILL, a lost machine) is a drain nobody else will undo: the
   * backend's container, if `running` (it may be a new one, never warmed), is warmed, then the
   * backend is set ready on each haproxy that has the marker (haproxy's checks still gate it), and
   * the marker goes.
   */
  recover(found: Array<{lb: Host; files: Map<string, Buffer>}>, running: (server: string, container: string) => Promise<boolean>): Promise<void>
}

export const noBalancer: Balancer = {around: (_host, _container, fn) => fn(), out: (_host, _container, fn) => fn(), recover: async () => {}}

/** What an haproxy host keeps while one of its backends is drained (set()): who drained it, for recover(). */
interface DrainMarker {
  kind: 'drain'
  server: string
  container: string
  frontends: string[]
  command: string
  machine: string
  pid: number
  user: string
  startedAt: string
}

const markerFile = (server: string, container: string) => posix.join(LOCK_ROOT, `drain-${server}-${container}.json`)

/**
 * set()'s exec on an haproxy host (argv: MARKER, its one-line content or `-`, then the runtime API
 * command; stdin: the runtime commands). A drain writes the marker before haproxy is told; a ready
 * removes it once haproxy took it. Killed in between, the marker is there and the backend is at worst
 * drained: recover() undoes it.
 */
export const SET_SCRIPT = `m=$1 data=$2; shift 2
if [ "$data" != - ]; then (umask 077 && mkdir -p -- "\${m%/*}" && printf '%s\\n' "$data" > "$m.tmp" && mv -f -- "$m.tmp" "$m") || exit 1; fi
"$@" || exit
[ "$data" != - ] || rm -f -- "$m"`

/** The runtime API of the haproxy system container on one host; several commands on one line, separated by `;` (set()). */
const RUNTIME = ['runc', 'exec', 'osctl-haproxy', 'socat', 'stdio', 'UNIX-CONNECT:/run/haproxy/admin.sock']
/** How long in-flight requests get to finish on a drained backend before the swap goes on. */
const DRAIN_WAIT_MS = 5000
/**
 * The same for a drained mariadb node (SQL over TCP): the services' pooled connections stay open,
 * so its sessions do not end by themselves; but every service recycles a connection older than
 * its `connection_recycle_time` (10 s in templates/) when it next takes it from its pool, reopened
 * through haproxy on another node. One second past that, no new transaction starts on the drained
 * node (one held open across that mark, or running when the node stops, is cut, as before).
 */
export const SQL_DRAIN_WAIT_MS = 11_000

/**
 * Warm-up, run in the new container (the API images have curl): a token from the keystone on the
 * same host (unless osctl already has one), then each frontend's warm path, as many requests at
 * once as the host has cores (uwsgi runs that many workers, and a cold worker is busy long enough
 * that the next request goes to another). What a first client request would pay for otherwise:
 * keystonemiddleware fetching its own token (a bcrypt check in keystone), the database pool,
 * policy. Positional args: base URL, keystone's port, then port and path pairs. Stdin: a token line (may be
 * empty), then the password-auth body. Prints `token T` when it issued one, then
 * `port status seconds` per request.
 */
export const WARM_SCRIPT = [
  'set -u',
  'base=$1 ks=$2; shift 2',
  'IFS= read -r tok || tok=',
  'body=$(cat)',
  'if [ -z "$tok" ]; then',
  `  tok=$(printf '%s' "$body" | curl -sS -m 20 -o /dev/null -D - -H 'Content-Type: application/json' --data-binary @- "$base:$ks/v3/auth/tokens" | tr -d '\\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: *//p')`,
  '  [ -n "$tok" ] || { echo "keystone at $base:$ks issued no token" >&2; exit 1; }',
  '  echo "token $tok"',
  'fi',
  'n=$(nproc 2>/dev/null || echo 2); [ "$n" -ge 2 ] || n=2; [ "$n" -le 8 ] || n=8',
  // The token in a 0600 file, not on a command line other users could read.
  'h=$(mktemp) || exit 1',
  `trap 'rm -f "$h"' EXIT`,
  `printf 'X-Auth-Token: %s\\nX-Subject-Token: %s\\n' "$tok" "$tok" > "$h"`,
  'while [ $# -ge 2 ]; do',
  '  i=0',
  '  while [ $i -lt "$n" ]; do curl -s -m 20 -o /dev/null -w "$1 %{http_code} %{time_total}\\n" -H @"$h" "$base:$1$2" & i=$((i + 1)); done',
  '  wait',
  '  shift 2',
  'done',
].join('\n')

/**
 * On the host, around the warm-up (its args: the low weight, the container, then the docker exec):
 * the new container answers its first requests at the low CPU weight it loaded at (a cold worker's
 * first request is seconds of CPU for nova-api), so the serving containers keep theirs; it gets the
 * default weight back when it is done, whatever the warm-up's outcome.
 */
export const WARM_WEIGHT_WRAP = [
  'low=$1 c=$2; shift 2',
  'docker update --cpu-shares "$low" "$c" >/dev/null 2>&1 || true',
  '"$@"; rc=$?',
  `docker update --cpu-shares ${DEFAULT_CPU_SHARES} "$c" >/dev/null 2>&1 || true`,
  'exit $rc',
].join('\n')

/** Where the warm-up asks for its token: keystone's frontend port. */
const KEYSTONE_PORT = API_FRONTENDS.find((f) => f.service === 'keystone')!.port

/** What a warm-up needs: the swapped host and its address, and the admin credentials. */
export interface WarmUp {
  host(name: string): Host
  address(name: string): string | undefined
  password: string
}

export function balancerFor(site: Site, session: HostSession, reporter: Reporter): Balancer {
  if (!site.config.internalVip) return noBalancer
  const control = site.hosts.filter((h) => h.groups.includes('control'))
  const byName = (name: string) => site.hosts.find((h) => h.name === name)
  // What a drain marker names: the command and its arguments, not its flags (like the site lock).
  const args = process.argv.slice(2)
  const command = ['osctl', ...args.slice(0, args.findIndex((a) => a.startsWith('-')) >>> 0)].join(' ')
  return new HaproxyBalancer(() => control.map((h) => session.host(h)), reporter, {
    command,
    warmUp: {host: (name) => session.host(byName(name)!), address: (name) => byName(name)?.address, password: site.passwords.keystone_admin_password},
  })
}

export class HaproxyBalancer implements Balancer {
  private readonly drainWaitMs: number
  private readonly sqlDrainWaitMs: number
  private readonly warmUp?: WarmUp
  /** One admin token for the whole command: issued by the first warm-up, reused by the others. */
  private token = ''

  /** The osctl command this balancer works for, as drain markers name it. */
  private readonly command: string

  constructor(
    private readonly haproxies: () => Host[],
    private readonly reporter: Reporter,
    opts: {drainWaitMs?: number; sqlDrainWaitMs?: number; warmUp?: WarmUp; command?: string} = {},
  ) {
    this.command = opts.command ?? 'osctl'
    this.drainWaitMs = opts.drainWaitMs ?? DRAIN_WAIT_MS
    this.sqlDrainWaitMs = opts.sqlDrainWaitMs ?? SQL_DRAIN_WAIT_MS
    this.warmUp = opts.warmUp
  }

  async around<T>(host: string, container: string, fn: () => Promise<T>): Promise<T> {
    const drained = await this.drain(host, container)
    if (!drained) return fn()
    try {
      const result = await fn()
      // A container its health gate failed is not warmed (the caller reports the failure at once).
      if ((result as {healthy?: unknown} | undefined)?.healthy !== false) await this.warm(host, container)
      return result
    } finally {
      // haproxy's own checks still gate it: a backend that is down stays out until it answers.
      await this.set(drained.lbs, container, drained.frontends, host, 'ready')
    }
  }

  async out<T>(host: string, container: string, fn: () => Promise<T>): Promise<T> {
    const drained = await this.drain(host, container)
    if (!drained) return fn()
    try {
      return await fn()
    } finally {
      // Down before ready: ready alone would send it requests until a check failed (2 s apart).
      await this.set(drained.lbs, container, drained.frontends, host, 'ready', 'down')
    }
  }

  /** Drains the host's backend of the frontends serving `container` and waits for its sessions; undefined when none serves it. */
  private async drain(host: string, container: string): Promise<{lbs: Host[]; frontends: string[]} | undefined> {
    const served = API_FRONTENDS.filter((f) => f.container === container)
    const frontends = served.map((f) => f.name)
    if (frontends.length === 0) return undefined
    const lbs = this.haproxies()
    await this.set(lbs, container, frontends, host, 'drain')
    const sql = served.some((f) => f.tcp)
    await this.idle(lbs, frontends, host, sql ? this.sqlDrainWaitMs : this.drainWaitMs, sql)
    return {lbs, frontends}
  }

  /**
   * On every haproxy at once. Best effort: a control host that is down (or has no haproxy yet)
   * must not stop an upgrade; the others still drain, and the event says which did not.
   */
  private async set(lbs: Host[], container: string, frontends: string[], server: string, state: 'drain' | 'ready', health?: 'down', left?: string): Promise<void> {
    // `health down` holds until haproxy's checks pass again (rise), whatever the admin state. One
    // line, commands separated by `;`: haproxy runs a second line only if it arrived with the first.
    const input = frontends.flatMap((f) => [...(health ? [`set server ${f}/${server} health ${health}`] : []), `set server ${f}/${server} state ${state}`]).join('; ') + '\n'
    const marker: DrainMarker = {kind: 'drain', server, container, frontends, command: this.command, ...thisProcess()}
    const argv = ['sh', '-c', SET_SCRIPT, 'osctl-lb-set', markerFile(server, container), state === 'drain' ? JSON.stringify(marker) : '-', ...RUNTIME]
    await Promise.all(
      lbs.map(async (lb) => {
        try {
          const r = await lb.exec(argv, {input, timeoutMs: 10_000})
          if (r.exitCode !== 0 || /No such|Unknown|not found/i.test(r.stdout)) throw new Error((r.stderr || r.stdout).trim().split('\n').at(-1))
          this.reporter.emit('balancer.state', {server, frontends, state, ...(health ? {health} : {}), ...(left ? {left} : {})}, lb.name)
        } catch (err) {
          this.reporter.emit('balancer.unreachable', {server, frontends, state, ...(health ? {health} : {}), error: errorMessage(err)}, lb.name)
        }
      }),
    )
  }

  async recover(found: Array<{lb: Host; files: Map<string, Buffer>}>, running: (server: string, container: string) => Promise<boolean>): Promise<void> {
    // Per backend (server and container), its marker on each haproxy host that has one.
    const stale = new Map<string, {marker: DrainMarker; lbs: Host[]}>()
    for (const {lb, files} of found)
      for (const [file, raw] of files) {
        if (!/^drain-.+\.json$/.test(file)) continue
        let m: DrainMarker
        try {
          m = JSON.parse(raw.toString('utf8')) as DrainMarker
        } catch {
          continue
        }
        if (m.kind !== 'drain' || !Array.isArray(m.frontends) || markerFile(m.server, m.container) !== posix.join(LOCK_ROOT, file)) continue
        // Gone: a process of this machine that no longer runs, or one of another machine an hour
        // past its start; holding the site lock, also any of another machine (it could only have
        // drained holding the lock). Without the lock (etcd down) a live one may be mid-drain.
        const state = journalState(m)
        if (!(state === 'interrupted' || (state === 'running' && m.machine !== hostname() && siteLockHeld()))) continue
        const key = `${m.server}\0${m.container}`
        const entry = stale.get(key) ?? {marker: m, lbs: []}
        entry.lbs.push(lb)
        stale.set(key, entry)
      }
    await Promise.all(
      [...stale.values()].map(async ({marker: m, lbs}) => {
        if (await running(m.server, m.container).catch(() => false)) await this.warm(m.server, m.container)
        const known = API_FRONTENDS.filter((f) => f.container === m.container).map((f) => f.name)
        await this.set(lbs, m.container, m.frontends.filter((f) => known.includes(f)), m.server, 'ready', undefined, describeProcess(m))
      }),
    )
  }

  /**
   * The new container answers each of its frontends' warm paths once per worker before clients
   * reach it. Best effort: a warm-up that fails costs the first clients some latency, never the
   * swap; the event says what it got.
   */
  private async warm(server: string, container: string): Promise<void> {
    const paths = API_FRONTENDS.filter((f) => f.container === container && f.warm)
    const address = this.warmUp?.address(server)
    if (!this.warmUp || paths.length === 0 || !address) return
    const began = performance.now()
    const frontends = paths.map((f) => f.name)
    try {
      const warmUp = ['docker', 'exec', '-i', container, 'sh', '-c', WARM_SCRIPT, 'osctl-warm-up', `http://${urlHost(address)}`, String(KEYSTONE_PORT), ...paths.flatMap((f) => [String(f.port), f.warm!])]
      const r = await this.warmUp.host(server).exec(['sh', '-c', WARM_WEIGHT_WRAP, 'osctl-warm-weight', String(WARM_UP_CPU_SHARES), container, ...warmUp], {
        input: `${this.token}\n${passwordAuthBody('admin', this.warmUp.password, 'admin')}`,
        timeoutMs: 60_000,
      })
      const lines = r.stdout.split('\n').filter(Boolean)
      const issued = lines.find((l) => l.startsWith('token '))
      if (issued) this.token = issued.slice('token '.length).trim()
      const answers = lines.filter((l) => !l.startsWith('token '))
      if (r.exitCode !== 0) throw new Error((r.stderr || r.stdout).trim().split('\n').at(-1) || `exit ${r.exitCode}`)
      this.reporter.emit('balancer.warm', {server, frontends, answers, ms: Math.round(performance.now() - began)}, server)
    } catch (err) {
      this.reporter.emit('balancer.warm', {server, frontends, answers: [], ms: Math.round(performance.now() - began), error: errorMessage(err)}, server)
    }
  }

  /**
   * Until no haproxy has a request in flight (or a session) to the drained backend, at most
   * `waitMs`. For SQL (`alone`), also once no haproxy has another server up for these frontends
   * (one control host): the services' connections have nowhere else to go, and waiting would only
   * hold new ones off.
   */
  private async idle(lbs: Host[], frontends: string[], server: string, waitMs: number, alone = false): Promise<void> {
    const deadline = performance.now() + waitMs
    for (;;) {
      const seen = await Promise.all(lbs.map((lb) => this.inFlight(lb, frontends, server)))
      if (seen.every((s) => s.busy === 0) || (alone && seen.every((s) => !s.othersUp)) || performance.now() >= deadline) return
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  private async inFlight(lb: Host, frontends: string[], server: string): Promise<{busy: number; othersUp: boolean}> {
    const r = await lb.exec(RUNTIME, {input: 'show stat\n', timeoutMs: 10_000}).catch(() => undefined)
    if (!r || r.exitCode !== 0) return {busy: 0, othersUp: false}
    const rows = haproxyServers(r.stdout).filter((s) => frontends.includes(s.proxy))
    return {
      busy: rows.filter((s) => s.server === server).reduce((n, s) => n + s.queued + s.sessions, 0),
      othersUp: rows.some((s) => s.server !== server && s.status.startsWith('UP')),
    }
  }
}
