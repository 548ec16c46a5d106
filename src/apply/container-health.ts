import {setTimeout as sleep} from 'node:timers/promises'

import type {ContainerClient} from '../docker/docker-client.js'
import {Host} from '../hosts/host.js'
import {connectedProbeCommand, connectedTarget} from '../hosts/connected-probe.js'
import {httpProbeScript} from '../hosts/http-probe.js'
import type {RenderedHealth} from '../catalog/render.js'

export interface HealthResult {
  healthy: boolean
  detail: string
}

/**
 * Probes from the host itself (bash /dev/tcp, like system containers): what counts is that the
 * service answers on the address its clients use, not what the container thinks of itself.
 */
export async function probeHealth(host: Host, h: Omit<RenderedHealth, 'timeoutSeconds'>, inContainer?: {docker: ContainerClient; container: string; pid?: number}): Promise<HealthResult> {
  if (h.first) {
    // The cheap check from the host first; the one in the container only once it holds.
    const first = await probeHealth(host, h.first, inContainer)
    if (!first.healthy) return first
  }
  if (h.kind === 'exec') {
    // Services without a port: the check runs where the process lives (docker exec).
    if (!inContainer) return {healthy: false, detail: `cannot run \`${h.target}\` without the container`}
    const r = await inContainer.docker.exec(inContainer.container, ['sh', '-c', h.target], {timeoutMs: 15_000}).catch((err: Error) => ({exitCode: -1, stdout: '', stderr: err.message}))
    const last = `${r.stderr}\n${r.stdout}`.trim().split('\n').at(-1) ?? ''
    // A check may say what it found on its last stdout line (nova-libvirt: the virt_type it chose and why).
    const said = r.stdout.trim().split('\n').at(-1) ?? ''
    return r.exitCode === 0 ? {healthy: true, detail: `\`${h.target}\` succeeded${said ? `: ${said}` : ''}`} : {healthy: false, detail: `\`${h.target}\` exited with ${r.exitCode}${last ? `: ${last}` : ''}`}
  }
  if (h.kind === 'connected') {
    // Read from the host, in the container's processes and network namespace (connected-probe.ts).
    if (!inContainer) return {healthy: false, detail: `cannot check ${h.target} without the container`}
    const pid = 'pid' in inContainer ? inContainer.pid : (await inContainer.docker.inspectContainer(inContainer.container))?.pid
    if (!pid) return {healthy: false, detail: `${inContainer.container} is not running`}
    const {name, port} = connectedTarget(h.target)
    const r = await host.exec(connectedProbeCommand(pid, {name, port}))
    if (r.exitCode === 124) return {healthy: false, detail: `reading whether ${name} is connected to port ${port} took over 5 s`}
    return r.exitCode === 0 ? {healthy: true, detail: `a ${name} process is connected to port ${port}`} : {healthy: false, detail: r.stderr.trim().split('\n').at(-1) || `no ${name} process is connected to port ${port}`}
  }
  if (h.kind === 'http') {
    const r = await host.exec(['timeout', '5', 'bash', '-c', httpProbeScript(h.target)])
    const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(r.stdout)?.[1]
    if (!status) return {healthy: false, detail: `no answer on ${h.target}`}
    // keystone answers / with 300 (multiple choices): anything below 400 is a live service.
    return Number(status) < 400 ? {healthy: true, detail: `${h.target} answered ${status}`} : {healthy: false, detail: `${h.target} answered ${status}`}
  }
  const at = h.target.lastIndexOf(':')
  const address = h.target.slice(0, at).replace(/^\[|\]$/g, '')
  const r = await host.exec(['timeout', '5', 'bash', '-c', `exec 3<>/dev/tcp/${address}/${h.target.slice(at + 1)}`])
  return r.exitCode === 0 ? {healthy: true, detail: `${h.target} accepts connections`} : {healthy: false, detail: `nothing accepts connections on ${h.target}`}
}

/**
 * Polls until healthy. A container that exits during the gate fails it at once with its exit code,
 * unless `restartsAllowed` > 0: a container of the revision that already ran (deploy found it
 * running or stopped, not one it just created) may have exited on a passing failure of something
 * it needs (nova-scheduler when keystone's VIP dropped a request during its start); systemd
 * restarts it (Restart=always, RestartSec=5), and the gate waits for that many restarts.
 */
export async function waitContainerHealthy(
  host: Host,
  docker: ContainerClient,
  container: string,
  h: RenderedHealth,
  {intervalMs = 1000, restartsAllowed = 0}: {intervalMs?: number; restartsAllowed?: number} = {},
): Promise<HealthResult> {
  const deadline = Date.now() + h.timeoutSeconds * 1000
  let last: HealthResult = {healthy: false, detail: 'not checked yet'}
  const exits = new Set<string>()
  while (Date.now() < deadline) {
    // A connected check needs the container's process: one inspect serves the probe and the exit check.
    const seen = h.kind === 'connected' || h.first?.kind === 'connected' ? await docker.inspectContainer(container) : undefined
    last = await probeHealth(host, h, seen ? {docker, container, pid: seen.pid} : {docker, container})
    if (last.healthy) return exits.size ? {...last, detail: `${last.detail} (after ${exitsSaid(exits.size)} and systemd's restart)`} : last
    const info = seen ?? (await docker.inspectContainer(container))
    if (info && info.state === 'exited' && (info.exitCode ?? 0) !== 0) {
      exits.add(info.startedAt ?? '')
      if (exits.size > restartsAllowed) return {healthy: false, detail: `${container} exited with ${info.exitCode}${exits.size > 1 ? ` (${exitsSaid(exits.size)})` : ''}`}
    }
    await sleep(intervalMs)
  }
  return {healthy: false, detail: `not healthy after ${h.timeoutSeconds}s: ${last.detail}`}
}

const exitsSaid = (n: number) => (n === 1 ? 'one exit' : `${n} exits`)
