import {throwIfInterrupted} from '../cli/interrupt.js'
import {Balancer, noBalancer} from '../apply/balancer.js'
import {waitContainerHealthy} from '../apply/container-health.js'
import type {ContainerClient} from '../docker/types.js'
import {OsctlError} from '../errors.js'
import type {Host} from '../hosts/host.js'
import {describeEntry, pendingOperations} from '../revisions/journal.js'
import {Ledger} from '../revisions/ledger.js'

export type ControlAction = 'stop' | 'start' | 'restart'

export interface ControlResult {
  container: string
  /** What was done: stopped, started, restarted; unchanged: already in the wanted state. */
  status: 'stopped' | 'started' | 'restarted' | 'unchanged'
  /** The health gate's answer (start, restart). */
  health?: string
}

/**
 * Stops, starts or restarts a service's containers on one host through their systemd units, never
 * the engine directly: `stop` is `systemctl disable --now`, so a stopped service stays stopped
 * across a reboot or an engine restart (the container's own restart policy is "no") until
 * `start` (`enable --now`) or a deploy starts it again. Not `mask`: a masked unit would make the
 * next deploy or a manual `systemctl start` fail instead of bringing the service back.
 * Start and restart wait for the health check recorded in the service's current revision.
 * `only` limits it to one container of the service. On a site with a VIP the balancer takes the
 * host's backend out of haproxy first (drained, its requests finished) and, after a start or
 * restart, back only once the container is healthy and warmed; after a stop it stays out until
 * haproxy's checks see it answer again (balancer.ts).
 */
export async function controlService(host: Host, docker: ContainerClient, service: string, action: ControlAction, only?: string, balancer: Balancer = noBalancer): Promise<ControlResult[]> {
  const record = await new Ledger(host).current(service)
  if (!record) {
    throw new OsctlError('COMMAND_FAILED', `${host.name}: ${service} is not deployed here (no ledger record)`, {hint: '`osctl service list` shows what runs where; `osctl deploy` deploys it'})
  }
  // Never under a running upgrade/rollback, and never picking a side of an interrupted one.
  const pending = (await pendingOperations([host], service)).get(host.name)
  if (pending) {
    throw new OsctlError('COMMAND_FAILED', `${host.name}: ${describeEntry(pending)} was interrupted`, {hint: `complete or undo it first: \`osctl service upgrade ${service}\` or \`osctl service rollback ${service}\``})
  }
  const containers = record.containers.filter((c) => !only || c.name === only)
  // Stop dependants first: the containers of a service start in order, so they stop in reverse.
  const ordered = action === 'stop' ? [...containers].reverse() : containers
  const results: ControlResult[] = []
  for (const c of ordered) {
    throwIfInterrupted(`${action} of ${c.name} on ${host.name}`)
    const unit = c.unitName
    const before = await docker.inspectContainer(c.name)
    if (!before) throw new OsctlError('COMMAND_FAILED', `${host.name}: container ${c.name} does not exist`, {hint: `\`osctl deploy --services ${service}\` creates it again`})
    const enabled = (await host.exec(['systemctl', 'is-enabled', '--quiet', unit])).exitCode === 0
    const running = before.state === 'running'
    if (action === 'stop') {
      const stop = async () => {
        await host.run(['systemctl', 'disable', '--now', '--quiet', unit])
        const after = await docker.inspectContainer(c.name)
        if (after?.state === 'running') throw new OsctlError('COMMAND_FAILED', `${host.name}: ${c.name} still runs after \`systemctl stop ${unit}\``, {hint: `see \`journalctl -u ${unit}\` on ${host.name}`})
      }
      await (running ? balancer.out(host.name, c.name, stop) : stop())
      results.push({container: c.name, status: running || enabled ? 'stopped' : 'unchanged'})
      continue
    }
    const status: ControlResult['status'] = action === 'restart' ? 'restarted' : running && enabled ? 'unchanged' : 'started'
    await host.run(['systemctl', 'enable', '--quiet', unit])
    const go = async () => {
      await host.exec(['systemctl', 'reset-failed', unit])
      if (status !== 'unchanged') await host.run(['systemctl', action === 'restart' ? 'restart' : 'start', unit])
      return waitContainerHealthy(host, docker, c.name, c.spec.health)
    }
    // A container that runs and keeps running (already up, or only its unit was disabled) is only
    // checked; one that starts or restarts is out of haproxy until healthy and warmed.
    const health = await (running && action !== 'restart' ? go() : balancer.around(host.name, c.name, go))
    if (!health.healthy) {
      throw new OsctlError('COMMAND_FAILED', `${host.name}: ${c.name} did not become healthy after ${action}: ${health.detail}`, {
        hint: `\`osctl service logs ${c.name}\`, \`journalctl -u ${unit}\` on ${host.name}`,
      })
    }
    results.push({container: c.name, status, health: health.detail})
  }
  return results
}
