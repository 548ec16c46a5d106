import {Host} from '../hosts/host.js'
import {httpProbeScript, httpsProbeScript} from '../hosts/http-probe.js'
import {HealthCheck} from './definitions.js'

export interface ProbeResult {
  healthy: boolean
  detail: string
}

export async function probe(host: Host, check: HealthCheck): Promise<ProbeResult> {
  if ('script' in check) {
    const r = await host.exec(['timeout', '5', 'sh', '-c', check.script])
    const detail = r.stdout.trim().split('\n').at(-1) || r.stderr.trim().split('\n').at(-1) || `exit ${r.exitCode}`
    return {healthy: r.exitCode === 0, detail: `${check.what}: ${detail}`}
  }
  const first = await probeUrl(host, check)
  if (first.healthy || !check.orElse) return first
  const other = await probe(host, check.orElse)
  return other.healthy ? other : first
}

async function probeUrl(host: Host, check: Extract<HealthCheck, {url: string}>): Promise<ProbeResult> {
  const script = check.tls ? httpsProbeScript(check.url, check.tls.ca) : httpProbeScript(check.url)
  const r = await host.exec(['timeout', '5', 'bash', '-c', script])
  if (r.exitCode !== 0 && !r.stdout) return {healthy: false, detail: `no answer on ${check.url}`}
  const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(r.stdout)?.[1]
  if (!status || !status.startsWith('2')) return {healthy: false, detail: `${check.url} answered ${status ?? 'garbage'}`}
  if (check.bodyIncludes && !r.stdout.includes(check.bodyIncludes)) {
    const body = r.stdout.split(/\r?\n\r?\n/).slice(1).join('\n').trim().slice(0, 200)
    return {healthy: false, detail: `${check.url} body lacks ${check.bodyIncludes}: ${body}`}
  }
  return {healthy: true, detail: `${check.url} answered ${status}`}
}

/** Polls until healthy or the deadline passes; the unit must also stay active (a crash loop fails fast). */
export async function waitHealthy(
  host: Host,
  unit: string,
  check: HealthCheck,
  timeoutSeconds: number,
  intervalMs = 500,
): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutSeconds * 1000
  let last: ProbeResult = {healthy: false, detail: 'not checked yet'}
  while (Date.now() < deadline) {
    last = await probe(host, check)
    if (last.healthy) return last
    const state = await unitState(host, unit)
    if (state.ActiveState === 'failed') return {healthy: false, detail: `${unit} failed (${state.Result ?? 'unknown result'})`}
    if (Number(state.NRestarts ?? 0) >= 3) return {healthy: false, detail: `${unit} restarted ${state.NRestarts} times (crash loop)`}
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  return {healthy: false, detail: `not healthy after ${timeoutSeconds}s: ${last.detail}`}
}

export async function unitState(host: Host, unit: string): Promise<Record<string, string>> {
  const r = await host.exec(['systemctl', 'show', '-p', 'ActiveState', '-p', 'SubState', '-p', 'NRestarts', '-p', 'Result', '-p', 'ActiveEnterTimestampMonotonic', '-p', 'ExecMainStartTimestampMonotonic', unit])
  return Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}
