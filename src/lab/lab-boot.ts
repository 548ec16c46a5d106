import {Socket} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

import {DockerClient} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'

export const BOOT_TIMEOUT_MS = 180_000

export interface BootState {
  /** `systemctl is-system-running`: running, degraded, starting … or `offline` when systemd does not answer. */
  systemd: string
  /** Units in failed state (why a host is degraded). */
  failed: string[]
}

/**
 * Waits until systemd finished booting (running or degraded), sshd is active and port 22 answers
 * from this machine: the same "it is up" an operator checks on a real server.
 */
export async function waitForBoot(docker: DockerClient, container: string, address: string, timeoutMs = BOOT_TIMEOUT_MS): Promise<BootState> {
  const deadline = Date.now() + timeoutMs
  const left = () => Math.max(1000, deadline - Date.now())
  let systemd = 'offline'
  // Right after `start`, systemd has not opened its bus yet and systemctl fails at once: poll.
  while (Date.now() < deadline) {
    const r = await docker.exec(container, ['systemctl', 'is-system-running', '--wait'], {timeoutMs: left()}).catch(() => undefined)
    systemd = r?.stdout.trim() || 'offline'
    if (systemd === 'running' || systemd === 'degraded') break
    await sleep(250)
  }
  if (systemd !== 'running' && systemd !== 'degraded') throw bootError(container, `systemd did not finish booting (state: ${systemd})`, timeoutMs)
  const failed = systemd === 'degraded' ? await failedUnits(docker, container) : []

  while ((await serviceState(docker, container, 'ssh')) !== 'active') {
    if (Date.now() >= deadline) throw bootError(container, 'sshd (ssh.service) is not active', timeoutMs)
    await sleep(250)
  }
  while (!(await tcpOpen(address, 22, 2000))) {
    if (Date.now() >= deadline) throw bootError(container, `port 22 on ${address} does not answer from this machine`, timeoutMs)
    await sleep(250)
  }
  return {systemd, failed}
}

function bootError(container: string, what: string, timeoutMs: number): OsctlError {
  return new OsctlError('LAB', `${container}: ${what} within ${Math.round(timeoutMs / 1000)} s`, {
    hint: `look inside: docker exec ${container} systemctl --failed; docker exec ${container} journalctl -b --no-pager | tail -50`,
  })
}

export async function systemState(docker: DockerClient, container: string): Promise<string> {
  const r = await docker.exec(container, ['systemctl', 'is-system-running'], {timeoutMs: 10_000}).catch(() => undefined)
  return r?.stdout.trim() || 'offline'
}

export async function serviceState(docker: DockerClient, container: string, unit: string): Promise<string> {
  const r = await docker.exec(container, ['systemctl', 'is-active', unit], {timeoutMs: 10_000}).catch(() => undefined)
  return r?.stdout.trim() || 'unknown'
}

export async function failedUnits(docker: DockerClient, container: string): Promise<string[]> {
  const r = await docker.exec(container, ['systemctl', '--failed', '--plain', '--no-legend'], {timeoutMs: 10_000})
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean)
}

export function tcpOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket()
    const done = (ok: boolean) => {
      s.destroy()
      resolve(ok)
    }
    s.setTimeout(timeoutMs, () => done(false))
    s.once('error', () => done(false))
    s.connect(port, host, () => done(true))
  })
}

/** The key sshd generated on this host's first boot, as `type base64` for known_hosts. */
export async function readHostKey(docker: DockerClient, container: string): Promise<string> {
  const r = await docker.exec(container, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub'], {timeoutMs: 10_000})
  const key = r.stdout.trim().split(/\s+/).slice(0, 2).join(' ')
  if (r.exitCode !== 0 || !key.startsWith('ssh-ed25519 ')) {
    throw new OsctlError('LAB', `${container}: cannot read /etc/ssh/ssh_host_ed25519_key.pub (${r.stderr.trim() || `exit ${r.exitCode}`})`)
  }
  return key
}

/** Puts the site key into root's authorized_keys (once), as a provisioning system would. */
export async function installAuthorizedKey(docker: DockerClient, container: string, publicKey: string): Promise<void> {
  const script = 'set -e; install -d -m 0700 /root/.ssh; f=/root/.ssh/authorized_keys; touch "$f"; chmod 0600 "$f"; grep -qxF "$1" "$f" || printf "%s\\n" "$1" >> "$f"'
  const r = await docker.exec(container, ['sh', '-c', script, 'sh', publicKey.trim()], {timeoutMs: 10_000}).catch((err: unknown) => {
    throw new OsctlError('LAB', `${container}: cannot install authorized_keys: ${errorMessage(err)}`, {cause: err})
  })
  if (r.exitCode !== 0) throw new OsctlError('LAB', `${container}: cannot install authorized_keys: ${r.stderr.trim()}`)
}
