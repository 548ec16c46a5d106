import semver from 'semver'

import {OsctlError} from '../errors.js'
import {silentReporter} from '../events/reporters.js'
import {Host, shellQuote} from '../hosts/host.js'
import type {SystemContainerDef} from '../system/definitions.js'
import {SystemManager} from '../system/manager.js'

export interface PrecheckResult {
  check: string
  ok: boolean
  detail: string
}

/** Free space osctl needs under /var/lib for image stores, two slots per system container and Docker. */
export const MIN_FREE_KIB = 2 * 1024 * 1024

/**
 * The oldest kernel osctl runs on: cgroup v2 with the controllers runc and Docker delegate,
 * nf_tables, and the bridge/vxlan features neutron's linuxbridge agent uses (Debian bullseye's 5.10).
 */
export const MIN_KERNEL = '5.10.0'

/** `uname -r` (6.1.0-18-amd64, 5.10.0-28-cloud-amd64, 6.18.44-fc-v1045) against MIN_KERNEL, in release order. */
export function kernelCheck(release: string): PrecheckResult {
  const version = semver.coerce(release)
  const ok = version !== null && semver.gte(version, MIN_KERNEL)
  return {check: 'kernel version', ok, detail: `kernel ${release || 'unknown'} (need ${MIN_KERNEL} or later)`}
}

/** Ports in LISTEN state, from /proc (no dependency on ss/netstat being installed). */
export function parseListeningPorts(procNetTcp: string): Set<number> {
  const ports = new Set<number>()
  for (const line of procNetTcp.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols.length < 4 || cols[3] !== '0A') continue
    const port = Number.parseInt(cols[1].split(':').at(-1) ?? '', 16)
    if (Number.isFinite(port)) ports.add(port)
  }
  return ports
}

/**
 * What a host must offer before osctl changes anything on it. Ports owned by osctl's own running
 * system containers are not conflicts (a second bootstrap must pass).
 */
export async function runPrechecks(host: Host, ports: number[], ownedPorts: number[]): Promise<PrecheckResult[]> {
  const probe = await host.exec(
    [
      'sh',
      '-c',
      'cat /proc/1/comm; echo ---; uname -r; echo ---; stat -fc %T /sys/fs/cgroup; ls /sys/fs/cgroup | head -3 | wc -l; echo ---; ' +
        'df -Pk /var/lib | tail -1; echo ---; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null',
    ],
    {timeoutMs: 20_000},
  )
  const [pid1 = '', kernel = '', cgroup = '', df = '', tcp = ''] = probe.stdout.split('---\n')
  const results: PrecheckResult[] = []
  const init = pid1.trim()
  results.push({check: 'systemd is PID 1', ok: init === 'systemd', detail: `PID 1 is ${init || 'unknown'}`})
  results.push(kernelCheck(kernel.trim()))
  const [fsType = '', entries = '0'] = cgroup.trim().split('\n')
  const cgroupOk = ['cgroup2fs', 'tmpfs'].includes(fsType) && Number(entries) > 0
  results.push({check: 'cgroups usable', ok: cgroupOk, detail: `/sys/fs/cgroup is ${fsType || 'missing'}`})
  const free = Number(df.trim().split(/\s+/)[3] ?? 0)
  results.push({check: 'disk space', ok: free >= MIN_FREE_KIB, detail: `${Math.round(free / 1024)} MiB free under /var/lib (need ${MIN_FREE_KIB / 1024} MiB)`})
  const listening = parseListeningPorts(tcp)
  const busy = ports.filter((p) => listening.has(p) && !ownedPorts.includes(p))
  results.push({check: 'ports free', ok: busy.length === 0, detail: busy.length ? `in use: ${busy.join(', ')}` : `free: ${ports.join(', ') || 'none needed'}`})
  return results
}

/** Ports of osctl's own system containers that run on the host now: not conflicts (a second bootstrap must pass). */
export async function ownedSystemPorts(host: Host, defs: readonly SystemContainerDef[]): Promise<number[]> {
  const mgr = new SystemManager(host, silentReporter)
  const owned: number[] = []
  for (const d of defs) if ((await mgr.state(d.name)).active === 'active') owned.push(...d.ports, ...(d.vipPorts ?? []))
  return owned
}

/** Kernel features the services use: overlay (Docker's overlay2), bridge and vxlan (neutron linuxbridge). */
export const KERNEL_FEATURES = ['overlay', 'bridge', 'vxlan']

/** How far a host's clock may be from this machine's (tokens, etcd leases and TLS all assume agreement). */
export const MAX_CLOCK_SKEW_MS = 2000

export interface SiteCheckWants {
  /** The host's address in inventory.yml: must be one of its own. */
  address: string
  /** Names the host must resolve besides its own hostname (the registry's host when it is a name). */
  names: string[]
}

/**
 * What `osctl prechecks` checks beyond bootstrap's (one probe): kernel features, the clock against
 * this machine's (bounded by the probe's round trip; NTP state reported), the host's own name and
 * the site's names resolving, and the inventory address being on the host.
 */
export async function runSiteChecks(host: Host, wants: SiteCheckWants, now: () => number = Date.now): Promise<PrecheckResult[]> {
  const features = KERNEL_FEATURES.map((m) => `if [ -d /sys/module/${m} ] || grep -qw ${m} /proc/filesystems || modprobe -n ${m} 2>/dev/null; then echo "${m} yes"; else echo "${m} no"; fi`).join('; ')
  const names = wants.names.map((n) => `getent hosts ${shellQuote([n])} >/dev/null && echo "${n} yes" || echo "${n} no"`).join('; ')
  const before = now()
  const probe = await host.exec(
    ['sh', '-c', `date +%s%3N; echo ---; timedatectl show -p NTPSynchronized --value 2>/dev/null || echo unknown; echo ---; ${features}; echo ---; ` +
      `h=$(hostname); getent hosts "$h" >/dev/null && echo "$h yes" || echo "$h no"; ${names}${names ? '; ' : ''}echo ---; ip -o addr 2>/dev/null || hostname -I`],
    {timeoutMs: 20_000},
  )
  const after = now()
  const [clock = '', ntp = '', kernel = '', resolved = '', addrs = ''] = probe.stdout.split('---\n')
  return [
    clockCheck(Number(clock.trim()), before, after, ntp.trim()),
    yesNoCheck('kernel features', kernel, (missing) => (missing.length ? `missing: ${missing.join(', ')}` : `present: ${KERNEL_FEATURES.join(', ')}`)),
    yesNoCheck('name resolution', resolved, (missing, all) => (missing.length ? `cannot resolve: ${missing.join(', ')}` : `resolves ${all.join(', ')}`)),
    addressCheck(addrs, wants.address),
  ]
}

/** The host's clock (ms) was read between `before` and `after` on this machine's clock. */
export function clockCheck(hostMs: number, before: number, after: number, ntp: string): PrecheckResult {
  const skew = hostMs < before ? hostMs - before : hostMs > after ? hostMs - after : 0
  const ok = Number.isFinite(hostMs) && Math.abs(skew) <= MAX_CLOCK_SKEW_MS
  const sync = ntp === 'yes' ? 'NTP synchronized' : ntp === 'no' ? 'NTP not synchronized' : 'NTP state unknown'
  return {check: 'time sync', ok, detail: Number.isFinite(hostMs) ? `clock ${skew === 0 ? 'agrees with this machine' : `${(skew / 1000).toFixed(1)} s off this machine`} (max ${MAX_CLOCK_SKEW_MS / 1000} s); ${sync}` : 'cannot read the clock'}
}

function yesNoCheck(check: string, out: string, detail: (missing: string[], all: string[]) => string): PrecheckResult {
  const rows = out.trim().split('\n').map((l) => l.trim().split(/\s+/)).filter((r) => r.length === 2)
  const missing = rows.filter(([, v]) => v !== 'yes').map(([k]) => k)
  return {check, ok: rows.length > 0 && missing.length === 0, detail: rows.length ? detail(missing, rows.map(([k]) => k)) : 'no answer'}
}

/** `ip -o addr` (or `hostname -I`) lists the inventory address. */
export function addressCheck(out: string, address: string): PrecheckResult {
  const words = out.split(/[\s/]+/)
  return {check: 'inventory address', ok: words.includes(address), detail: words.includes(address) ? `${address} is on the host` : `${address} (inventory.yml) is not an address of this host`}
}

export function assertPrechecks(host: Host, results: PrecheckResult[]): void {
  const failed = results.filter((r) => !r.ok)
  if (failed.length === 0) return
  throw new OsctlError('COMMAND_FAILED', `${host.name}: prechecks failed: ${failed.map((f) => `${f.check} (${f.detail})`).join('; ')}`, {
    details: results,
    hint: 'Fix the host, then run `osctl bootstrap` again; nothing was changed on it.',
  })
}

/** TCP connect from the host to the registry: every non-deploy host pulls from it. */
export async function canReach(host: Host, address: string, port: number): Promise<boolean> {
  const r = await host.exec(['timeout', '5', 'bash', '-c', `exec 3<>/dev/tcp/${address}/${port}`])
  return r.exitCode === 0
}
