import {readFile} from 'node:fs/promises'
import {Client, type ConnectConfig, type ServerHostKeyAlgorithm} from 'ssh2'

import {OsctlError, errorMessage} from '../errors.js'
import {formatMs} from './host.js'
import {KnownHostsFile, fingerprint, hostKeyName, keyTypeOf} from './known-hosts.js'

export interface SshTarget {
  /** Inventory name, used in every message. */
  name: string
  address: string
  port: number
  user: string
  /** Private key; when absent the agent at $SSH_AUTH_SOCK is used. */
  keyFile?: string
  knownHostsFile: string
  hostKeyPolicy: 'strict' | 'accept-new'
  connectTimeoutMs?: number
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

const HOST_KEY_ALGOS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
const ALGOS_FOR_KEY_TYPE: Record<string, string[]> = {'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']}

export function where(t: SshTarget): string {
  return `${t.name} (${t.address}:${t.port})`
}

/**
 * Opens one authenticated SSH connection. Every failure becomes an OsctlError that says which host,
 * what went wrong and what to do: unreachable, authentication, or a host key problem.
 */
export async function openSshConnection(t: SshTarget): Promise<Client> {
  const auth = await authConfig(t)
  const knownHosts = new KnownHostsFile(t.knownHostsFile)
  const knownTypes = await knownHosts.keyTypes(t.address, t.port)
  let keyError: OsctlError | undefined
  const timeoutMs = t.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS

  const hostVerifier = (blob: Buffer, verify: (ok: boolean) => void): void => {
    verifyHostKey(t, knownHosts, blob).then(
      (err) => {
        keyError = err
        verify(err === undefined)
      },
      (err: unknown) => {
        keyError = new OsctlError('HOST_KEY_UNKNOWN', `cannot check the host key of ${where(t)} against ${t.knownHostsFile}: ${errorMessage(err)}`, {cause: err})
        verify(false)
      },
    )
  }

  const config: ConnectConfig = {
    host: t.address,
    port: t.port,
    username: t.user,
    ...auth,
    readyTimeout: timeoutMs,
    keepaliveInterval: 15_000,
    keepaliveCountMax: 3,
    hostVerifier,
    // Like OpenSSH, ask for the key types already on record first, so a host with several keys
    // presents the one we can verify instead of looking "unknown".
    algorithms: knownTypes.length > 0 ? {serverHostKey: preferKnown(knownTypes)} : undefined,
  }

  return new Promise<Client>((resolve, reject) => {
    const client = new Client()
    const onError = (err: Error & {level?: string; code?: string}) => {
      client.removeListener('ready', onReady)
      client.end()
      reject(keyError ?? connectError(t, err, timeoutMs))
    }
    const onReady = () => {
      client.removeListener('error', onError)
      // Later errors (keepalive timeout, reset) surface through 'close' on the open channels.
      client.on('error', () => undefined)
      resolve(client)
    }
    client.once('ready', onReady)
    client.once('error', onError)
    try {
      client.connect(config)
    } catch (err) {
      // ssh2 throws synchronously for unusable keys (e.g. encrypted without passphrase).
      reject(new OsctlError('HOST_AUTH', `cannot use key file ${t.keyFile} for ${t.user}@${where(t)}: ${errorMessage(err)}`, {
        cause: err,
        hint: 'osctl cannot prompt for a passphrase: load the key into ssh-agent (ssh-add) and leave ssh.keyFile unset',
      }))
    }
  })
}

async function authConfig(t: SshTarget): Promise<Pick<ConnectConfig, 'privateKey' | 'agent'>> {
  if (t.keyFile) {
    try {
      return {privateKey: await readFile(t.keyFile)}
    } catch (err) {
      throw new OsctlError('HOST_AUTH', `cannot read SSH key file ${t.keyFile} for ${where(t)}: ${errorMessage(err)}`, {
        cause: err,
        hint: 'fix ssh.keyFile for this host in inventory.yml',
      })
    }
  }
  if (process.env.SSH_AUTH_SOCK) return {agent: process.env.SSH_AUTH_SOCK}
  throw new OsctlError('HOST_AUTH', `no SSH key for ${t.user}@${where(t)}: no ssh.keyFile set and no agent (SSH_AUTH_SOCK is unset)`, {
    hint: 'set ssh.keyFile in inventory.yml or start ssh-agent and ssh-add your key',
  })
}

async function verifyHostKey(t: SshTarget, file: KnownHostsFile, blob: Buffer): Promise<OsctlError | undefined> {
  let check = await file.check(t.address, t.port, blob)
  if (check.status === 'unknown' && t.hostKeyPolicy === 'accept-new') check = await file.addIfUnknown(t.address, t.port, blob)
  if (check.status === 'match') return undefined
  const fp = `${keyTypeOf(blob)} ${fingerprint(blob)}`
  if (check.status === 'unknown') {
    return new OsctlError('HOST_KEY_UNKNOWN', `host key of ${where(t)} is not in ${t.knownHostsFile} (presented ${fp}); refusing to connect with hostKeyPolicy 'strict'`, {
      hint: `verify the fingerprint out of band, then add it: ssh-keyscan -p ${t.port} ${t.address} >> ${t.knownHostsFile} — or set sshHostKeyPolicy: accept-new in osctl.yml`,
      details: {host: t.name, address: t.address, port: t.port, fingerprint: fingerprint(blob)},
    })
  }
  const at = `${t.knownHostsFile}:${check.entry?.line}`
  const what = check.revoked ? 'is marked @revoked in' : 'does not match the key recorded in'
  return new OsctlError('HOST_KEY_MISMATCH', `HOST KEY CHANGED for ${where(t)}: presented ${fp}, which ${what} ${at}; refusing to connect (possible man-in-the-middle)`, {
    location: at,
    hint: `if the host was reinstalled, remove the stale entry with: ssh-keygen -f ${t.knownHostsFile} -R '${hostKeyName(t.address, t.port)}'`,
    details: {host: t.name, address: t.address, port: t.port, fingerprint: fingerprint(blob), knownHosts: at},
  })
}

function preferKnown(types: string[]): ServerHostKeyAlgorithm[] {
  const first = types.flatMap((k) => ALGOS_FOR_KEY_TYPE[k] ?? [k]).filter((a) => HOST_KEY_ALGOS.includes(a))
  return [...new Set([...first, ...HOST_KEY_ALGOS])] as ServerHostKeyAlgorithm[]
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

function connectError(t: SshTarget, err: Error & {level?: string; code?: string}, timeoutMs: number): OsctlError {
  if (err.level === 'client-authentication') {
    const how = t.keyFile ? `key ${t.keyFile}` : `the keys in the SSH agent (${process.env.SSH_AUTH_SOCK})`
    return new OsctlError('HOST_AUTH', `authentication failed for ${t.user}@${where(t)} with ${how}`, {
      cause: err,
      hint: `add the public key${t.keyFile ? ` (${t.keyFile}.pub)` : ''} to ~${t.user}/.ssh/authorized_keys on ${t.name}, or fix ssh.user / ssh.keyFile in inventory.yml`,
      details: {host: t.name, user: t.user, keyFile: t.keyFile},
    })
  }
  const reason = err.level === 'client-timeout' ? `no SSH handshake within ${formatMs(timeoutMs)}` : (err.code && NET_REASONS[err.code]) || err.message
  return new OsctlError('HOST_UNREACHABLE', `cannot reach ${where(t)}: ${reason}`, {
    cause: err,
    hint: 'check that the host is up, the address and ssh.port in inventory.yml are right, and sshd is running',
    details: {host: t.name, address: t.address, port: t.port, code: err.code},
  })
}
