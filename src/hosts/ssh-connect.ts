import {readFile} from 'node:fs/promises'
import {Client, type ConnectConfig, type ServerHostKeyAlgorithm} from 'ssh2'

import {trace} from '../cli/trace.js'
import {OsctlError, errorMessage} from '../errors.js'
import {ConnectProgress, connectError, inventoryKey, where} from './ssh-errors.js'
import {KnownHostsFile, fingerprint, hostKeyName, keyTypeOf} from './known-hosts.js'

export {where} from './ssh-errors.js'

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


/**
 * Opens one authenticated SSH connection. Every failure becomes an OsctlError that says which host,
 * what went wrong and what to do: unreachable, authentication, or a host key problem.
 */
export async function openSshConnection(t: SshTarget): Promise<Client> {
  trace(`ssh ${t.name}: connecting`)
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
    const progress: ConnectProgress = {tcpConnected: false}
    let settled = false
    const fail = (err: OsctlError): void => {
      if (settled) return
      settled = true
      client.destroy()
      reject(err)
    }
    // ssh2 may emit several 'error' events for one failed connection (a handshake timeout, then
    // "Connection lost before handshake" as the socket closes; keepalive errors later): this one
    // listener stays for the client's whole life, so no error is ever an unhandled event.
    client.on('error', (err: Error & {level?: string; code?: string}) => fail(keyError ?? connectError(t, err, timeoutMs, progress)))
    client.once('connect', () => {
      progress.tcpConnected = true
    })
    client.once('close', () => fail(keyError ?? connectError(t, Object.assign(new Error('Connection lost before handshake'), {level: 'protocol'}), timeoutMs, progress)))
    client.once('ready', () => {
      if (settled) return void client.destroy()
      settled = true
      trace(`ssh ${t.name}: ready`)
      // Later errors (keepalive timeout, reset) surface through 'close' on the open channels.
      resolve(client)
    })
    try {
      client.connect(config)
    } catch (err) {
      // ssh2 throws synchronously for unusable keys (e.g. encrypted without passphrase).
      fail(new OsctlError('HOST_AUTH', `cannot use key file ${t.keyFile} for ${t.user}@${where(t)}: ${errorMessage(err)}`, {
        cause: err,
        hint: `osctl cannot prompt for a passphrase: load the key into ssh-agent (ssh-add) and remove ${inventoryKey(t, 'ssh_key')} from inventory.yml`,
        details: {host: t.name, keyFile: t.keyFile},
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
        hint: `fix ${inventoryKey(t, 'ssh_key')} in inventory.yml (a private key file osctl can read)`,
        details: {host: t.name, keyFile: t.keyFile},
      })
    }
  }
  if (process.env.SSH_AUTH_SOCK) return {agent: process.env.SSH_AUTH_SOCK}
  throw new OsctlError('HOST_AUTH', `no SSH key for ${t.user}@${where(t)}: no ssh_key in inventory.yml and no agent (SSH_AUTH_SOCK is unset)`, {
    hint: `set ${inventoryKey(t, 'ssh_key')} in inventory.yml, or start ssh-agent and ssh-add your key`,
    details: {host: t.name},
  })
}

async function verifyHostKey(t: SshTarget, file: KnownHostsFile, blob: Buffer): Promise<OsctlError | undefined> {
  let check = await file.check(t.address, t.port, blob)
  if (check.status === 'unknown' && t.hostKeyPolicy === 'accept-new') check = await file.addIfUnknown(t.address, t.port, blob)
  if (check.status === 'match') return undefined
  const fp = `${keyTypeOf(blob)} ${fingerprint(blob)}`
  if (check.status === 'unknown') {
    return new OsctlError('HOST_KEY_UNKNOWN', `host key of ${where(t)} is not in ${t.knownHostsFile} (presented ${fp}); refusing to connect (ssh_host_key_policy: strict)`, {
      hint: `verify the fingerprint out of band, then add it: ssh-keyscan -p ${t.port} ${t.address} >> ${t.knownHostsFile} — or set ssh_host_key_policy: accept-new in osctl.yml`,
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
