import {OsctlError} from '../errors.js'
import {Host} from '../hosts/host.js'

export interface DockerEngineResult {
  configChanged: boolean
  started: boolean
}

/**
 * daemon.json: the site registry is insecure while it speaks plain HTTP on the management
 * network; with TLS the engine verifies it with /etc/docker/certs.d/<registry>/ca.crt instead.
 */
export function daemonJson(registry: string, opts: {tls?: boolean} = {}): string {
  const config = {
    ...(opts.tls ? {} : {'insecure-registries': [registry]}),
    // Containers keep running while dockerd restarts (config change, upgrade).
    'live-restore': true,
    'log-driver': 'json-file',
    'log-opts': {'max-size': '50m', 'max-file': '3'},
  }
  return JSON.stringify(config, null, 2) + '\n'
}

/** Docker starts after the system containers (their units say Before=docker.service) and at boot. */
export async function ensureDockerEngine(host: Host, registry: string, opts: {tls?: boolean} = {}): Promise<DockerEngineResult> {
  const configChanged = await host.writeFileAtomic('/etc/docker/daemon.json', daemonJson(registry, opts))
  const active = (await host.exec(['systemctl', 'is-active', 'docker.service'])).stdout.trim() === 'active'
  await host.run(['systemctl', 'enable', '--quiet', 'docker.service'])
  let started = false
  if (!active) {
    await host.exec(['systemctl', 'reset-failed', 'docker.service'])
    await host.run(['systemctl', 'start', 'docker.service'], {timeoutMs: 120_000})
    started = true
  } else if (configChanged) {
    await host.run(['systemctl', 'restart', 'docker.service'], {timeoutMs: 120_000})
    started = true
  }
  const ping = await host.exec(['docker', 'info', '--format', '{{.ServerVersion}}'], {timeoutMs: 60_000})
  if (ping.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${host.name}: Docker did not come up: ${ping.stderr.trim()}`, {hint: `See \`journalctl -u docker\` on ${host.name}.`})
  }
  return {configChanged, started}
}
