import semver from 'semver'

import {OsctlError} from '../errors.js'
import {Host} from '../hosts/host.js'

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
