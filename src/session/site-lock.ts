import {hostname} from 'node:os'
import {setTimeout as sleep} from 'node:timers/promises'

import {OsctlError, errorMessage} from '../errors.js'
import type {Reporter} from '../events/event-types.js'
import {whoAmI} from '../revisions/journal.js'
import {urlHost} from '../site/internal-address.js'
import type {Site} from '../site/types.js'
import {noteSiteLock} from './site-lock-state.js'

/**
 * One operator at a time: a command that changes hosts holds /osctl/lock in the site's etcd (the
 * control hosts' system container), written with a lease that this process keeps alive. A second
 * osctl, on this machine or another, is refused naming the holder (or waits, OSCTL_LOCK_WAIT=SECONDS);
 * the lease of a killed osctl expires after LEASE_TTL seconds and the lock is free again.
 */
export const LOCK_KEY = '/osctl/lock'
export const LEASE_TTL = 15

export interface LockHolder {
  command: string
  pid: number
  machine: string
  user: string
  since: string
}

type Fetch = typeof fetch
const b64 = (s: string) => Buffer.from(s).toString('base64')

/** etcd's JSON gateway (v3) on one member. */
class Etcd {
  constructor(
    readonly url: string,
    private readonly http: Fetch,
  ) {}

  async call<T>(path: string, body: unknown, timeoutMs = 3000): Promise<T> {
    const r = await this.http(`${this.url}${path}`, {method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs)})
    if (!r.ok) throw new Error(`etcd ${path} answered ${r.status}: ${(await r.text()).slice(0, 200)}`)
    return (await r.json()) as T
  }
}

/** The first control host whose etcd answers; undefined when none does (no etcd yet: a first bootstrap). */
async function reachEtcd(site: Site, http: Fetch): Promise<Etcd | undefined> {
  for (const h of site.hosts.filter((x) => x.groups.includes('control'))) {
    const etcd = new Etcd(`http://${urlHost(h.address)}:2379`, http)
    try {
      await etcd.call('/v3/maintenance/status', {})
      return etcd
    } catch {
      // next member
    }
  }
  return undefined
}

export interface SiteLockOptions {
  /** Seconds to wait for a held lock (default: OSCTL_LOCK_WAIT, else 0: refuse at once). */
  waitSeconds?: number
  http?: Fetch
  keepAliveMs?: number
}

/** Takes the site lock for `command`; resolves to its release. Refuses (SITE_LOCKED) naming the holder. */
export async function acquireSiteLock(site: Site, command: string, reporter: Reporter, opts: SiteLockOptions = {}): Promise<() => Promise<void>> {
  const http = opts.http ?? fetch
  const etcd = await reachEtcd(site, http)
  if (!etcd) {
    reporter.emit('lock.none', {reason: 'no etcd member answers on the control hosts (not bootstrapped yet?)'})
    return async () => {}
  }
  const me: LockHolder = {command, pid: process.pid, machine: hostname(), user: whoAmI(), since: new Date().toISOString()}
  let lease: string
  try {
    lease = (await etcd.call<{ID: string}>('/v3/lease/grant', {TTL: LEASE_TTL})).ID
  } catch (err) {
    // etcd answers but cannot write (no quorum: a control host of two is down). The operator
    // needs osctl most right then: go on without the lock, and say so.
    reporter.emit('lock.none', {reason: `etcd at ${etcd.url} cannot grant a lease (${errorMessage(err)}); no quorum?`})
    return async () => {}
  }
  const deadline = Date.now() + 1000 * (opts.waitSeconds ?? Number(process.env.OSCTL_LOCK_WAIT ?? 0))
  let announced = false
  for (;;) {
    type Txn = {succeeded?: boolean; responses?: Array<{response_range?: {kvs?: Array<{value: string}>}}>}
    const txn = await etcd
      .call<Txn>('/v3/kv/txn', {
        compare: [{key: b64(LOCK_KEY), target: 'CREATE', create_revision: '0'}],
        success: [{request_put: {key: b64(LOCK_KEY), value: b64(JSON.stringify(me)), lease}}],
        failure: [{request_range: {key: b64(LOCK_KEY)}}],
      })
      .catch((err: unknown) => {
        reporter.emit('lock.none', {reason: `etcd at ${etcd.url} cannot write the lock (${errorMessage(err)}); no quorum?`})
        return undefined
      })
    if (!txn) return async () => {}
    if (txn.succeeded) break
    const raw = txn.responses?.[0]?.response_range?.kvs?.[0]?.value
    const holder = raw ? (JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as LockHolder) : undefined
    if (raw && holder && gone(holder)) {
      // Left by an osctl of this machine that is gone (killed before its lease ran out): take it over.
      await etcd.call('/v3/kv/txn', {compare: [{key: b64(LOCK_KEY), target: 'VALUE', value: raw}], success: [{request_delete_range: {key: b64(LOCK_KEY)}}]})
      reporter.emit('lock.taken-over', {holder: describeHolder(holder)})
      continue
    }
    if (Date.now() >= deadline) {
      await etcd.call('/v3/lease/revoke', {ID: lease}).catch(() => undefined)
      throw locked(command, holder)
    }
    if (!announced) reporter.emit('lock.wait', {holder: describeHolder(holder)})
    announced = true
    await sleep(1000)
  }
  reporter.emit('lock.taken', {key: LOCK_KEY, ttl: LEASE_TTL})
  noteSiteLock(true)
  const timer = setInterval(() => void etcd.call('/v3/lease/keepalive', {ID: lease}).catch(() => undefined), opts.keepAliveMs ?? (LEASE_TTL * 1000) / 3)
  timer.unref()
  return async () => {
    clearInterval(timer)
    noteSiteLock(false)
    // Revoking the lease deletes the key. Any member will do (this one may be restarting after a
    // `system upgrade etcd`); if none answers, the lease runs out on its own.
    if (await etcd.call('/v3/lease/revoke', {ID: lease}, 1500).then(() => true, () => false)) return
    await sleep(1000)
    const member = await reachEtcd(site, http)
    await member?.call('/v3/lease/revoke', {ID: lease}, 1500).catch(() => undefined)
  }
}

/** A holder on this machine whose process no longer exists. */
function gone(h: LockHolder): boolean {
  if (h.machine !== hostname() || h.pid === process.pid) return false
  try {
    process.kill(h.pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

function describeHolder(h: LockHolder | undefined): string {
  return h ? `\`osctl ${h.command}\` (pid ${h.pid} on ${h.machine}, by ${h.user}, since ${h.since})` : 'another osctl'
}

function locked(command: string, holder: LockHolder | undefined): OsctlError {
  return new OsctlError('SITE_LOCKED', `cannot run \`osctl ${command}\`: ${describeHolder(holder)} holds the site lock`, {
    hint: `Wait for it to finish, or let this command wait: OSCTL_LOCK_WAIT=600 osctl ${command} … (a killed osctl's lock expires within ${LEASE_TTL} s).`,
    details: holder ? {holder} : undefined,
  })
}
