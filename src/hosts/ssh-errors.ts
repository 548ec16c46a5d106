import {OsctlError} from '../errors.js'
import {formatMs} from './host.js'
import type {SshTarget} from './ssh-connect.js'

export function where(t: SshTarget): string {
  return `${t.name} (${t.address}:${t.port})`
}

/** Where an inventory.yml setting of this host lives: its own entry, else `defaults`. */
export function inventoryKey(t: SshTarget, key: 'ssh_key' | 'ssh_port' | 'ssh_user' | 'address'): string {
  return key === 'address' ? `hosts.${t.name}.address` : `${key} (hosts.${t.name} or defaults)`
}

const NET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ECONNRESET: 'connection reset by peer',
  ENOTFOUND: 'host name does not resolve',
  EAI_AGAIN: 'host name does not resolve (DNS temporarily unavailable)',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed by peer',
}

/** How far a failed connection got: whether TCP connected decides what a timeout means. */
export interface ConnectProgress {
  tcpConnected: boolean
}

type SshError = Error & {level?: string; code?: string}

/**
 * One ssh2 connection failure as a per-host OsctlError (exit 5): what happened, on which host,
 * and what to check; the hint names the inventory.yml keys as they are spelled there.
 */
export function connectError(t: SshTarget, err: SshError, timeoutMs: number, progress: ConnectProgress): OsctlError {
  const details = {host: t.name, address: t.address, port: t.port, user: t.user, keyFile: t.keyFile, code: err.code}
  if (err.level === 'client-authentication') {
    const how = t.keyFile ? `key ${t.keyFile}` : `the keys in the SSH agent (${process.env.SSH_AUTH_SOCK})`
    return new OsctlError('HOST_AUTH', `authentication failed for ${t.user}@${where(t)} with ${how}`, {
      cause: err,
      hint: `add the public key${t.keyFile ? ` (${t.keyFile}.pub)` : ''} to ~${t.user}/.ssh/authorized_keys on ${t.name}, or fix ${inventoryKey(t, 'ssh_user')} / ${inventoryKey(t, 'ssh_key')} in inventory.yml`,
      details,
    })
  }
  const portHint = `check ${inventoryKey(t, 'address')} and ${inventoryKey(t, 'ssh_port')} in inventory.yml`
  let reason: string
  let hint: string
  if (err.level === 'client-timeout' && progress.tcpConnected) {
    reason = `port ${t.port} accepted the connection but no SSH handshake came within ${formatMs(timeoutMs)}`
    hint = `something other than sshd may listen on port ${t.port}, or sshd is overloaded; ${portHint}`
  } else if (err.level === 'client-timeout' || err.code === 'ETIMEDOUT') {
    reason = `no answer within ${formatMs(timeoutMs)}`
    hint = `the host is down or a firewall drops the packets; ${portHint}`
  } else if (err.message === 'Connection lost before handshake' || err.code === 'EPIPE') {
    reason = 'the connection was closed before the SSH handshake'
    hint = `sshd refused it (MaxStartups, tcp wrappers, a ban) or port ${t.port} is not an SSH server; ${portHint}`
  } else if (err.code === 'ECONNRESET') {
    reason = progress.tcpConnected ? 'connection reset by peer during the SSH handshake' : 'connection reset by peer'
    hint = `sshd or a firewall on the way dropped the connection; ${portHint}`
  } else if (err.code === 'ECONNREFUSED') {
    reason = NET_REASONS.ECONNREFUSED
    hint = `nothing listens on port ${t.port}: start sshd on ${t.name}, or ${portHint}`
  } else {
    reason = (err.code && NET_REASONS[err.code]) || err.message
    hint = `check that the host is up and sshd is running; ${portHint}`
  }
  return new OsctlError('HOST_UNREACHABLE', `cannot reach ${where(t)}: ${reason}`, {cause: err, hint, details})
}
