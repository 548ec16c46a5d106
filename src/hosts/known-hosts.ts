import {createHash, createHmac, timingSafeEqual} from 'node:crypto'
import {open, mkdir, readFile, stat, appendFile} from 'node:fs/promises'
import {dirname} from 'node:path'

import {withFileLock} from '../site/file-lock.js'

/** One line of an OpenSSH known_hosts file (see sshd(8), SSH_KNOWN_HOSTS FILE FORMAT). */
export interface KnownHostEntry {
  /** 1-based, so messages can say file:line. */
  line: number
  marker?: '@cert-authority' | '@revoked'
  /** Comma-separated patterns (plain entries); wildcards and `!` negation allowed. */
  patterns?: string[]
  /** `|1|salt|hash` entries: HMAC-SHA1(salt, hostname) */
  hashed?: {salt: Buffer; hash: Buffer}
  keyType: string
  /** Base64 of the key blob, exactly as written in the file. */
  key: string
  comment?: string
}

export type HostKeyStatus = 'match' | 'mismatch' | 'unknown'

export interface HostKeyCheck {
  status: HostKeyStatus
  /** The entry that matched or contradicted the presented key. */
  entry?: KnownHostEntry
  revoked?: boolean
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#')) return
    const fields = trimmed.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0].startsWith('@')) {
      const m = fields.shift()
      // An unknown marker makes OpenSSH skip the line; do the same rather than misreading it.
      if (m !== '@cert-authority' && m !== '@revoked') return
      marker = m
    }
    if (fields.length < 3) return
    const [hostField, keyType, key, ...rest] = fields
    const entry: KnownHostEntry = {line: i + 1, keyType, key, marker}
    if (rest.length > 0) entry.comment = rest.join(' ')
    if (hostField.startsWith('|1|')) {
      const [, , salt, hash] = hostField.split('|')
      if (!salt || !hash) return
      entry.hashed = {salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64')}
    } else {
      entry.patterns = hostField.split(',')
    }
    entries.push(entry)
  })
  return entries
}

/** How OpenSSH names a host in known_hosts: bare for port 22, `[host]:port` otherwise. */
export function hostKeyName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')
  return new RegExp(`^${body}$`, 'i')
}

export function entryMatchesHost(entry: KnownHostEntry, address: string, port: number): boolean {
  const name = hostKeyName(address, port)
  if (entry.hashed) {
    const mac = createHmac('sha1', entry.hashed.salt).update(name).digest()
    return mac.length === entry.hashed.hash.length && timingSafeEqual(mac, entry.hashed.hash)
  }
  let matched = false
  for (const p of entry.patterns ?? []) {
    const negated = p.startsWith('!')
    if (globToRegExp(negated ? p.slice(1) : p).test(name)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

/** Decodes the type name that starts every SSH public key blob (RFC 4253 §6.6). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown'
  const len = blob.readUInt32BE(0)
  return blob.subarray(4, 4 + len).toString('latin1')
}

/** `SHA256:…` as ssh-keygen -l and the OpenSSH client print it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

export function checkHostKey(entries: KnownHostEntry[], address: string, port: number, blob: Buffer): HostKeyCheck {
  const type = keyTypeOf(blob)
  const key = blob.toString('base64')
  const mine = entries.filter((e) => e.marker !== '@cert-authority' && entryMatchesHost(e, address, port))
  const revoked = mine.find((e) => e.marker === '@revoked' && e.key === key)
  if (revoked) return {status: 'mismatch', entry: revoked, revoked: true}
  const live = mine.filter((e) => e.marker === undefined)
  const same = live.find((e) => e.keyType === type && e.key === key)
  if (same) return {status: 'match', entry: same}
  // Only a key of the same type contradicts: a host may have several keys of different types.
  const other = live.find((e) => e.keyType === type)
  if (other) return {status: 'mismatch', entry: other}
  return {status: 'unknown'}
}

// In-process queue per file: parallel hosts of one run never interleave their appends.
const queues = new Map<string, Promise<unknown>>()

/** A known_hosts file on the machine running osctl. */
export class KnownHostsFile {
  constructor(readonly path: string) {}

  async entries(): Promise<KnownHostEntry[]> {
    try {
      return parseKnownHosts(await readFile(this.path, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }

  async check(address: string, port: number, blob: Buffer): Promise<HostKeyCheck> {
    return checkHostKey(await this.entries(), address, port, blob)
  }

  /** Key types already recorded for the host, so the client can ask the server for those first. */
  async keyTypes(address: string, port: number): Promise<string[]> {
    const types = (await this.entries())
      .filter((e) => e.marker === undefined && entryMatchesHost(e, address, port))
      .map((e) => e.keyType)
    return [...new Set(types)]
  }

  /**
   * Records the key unless another run got there first; re-checks under the lock and returns what
   * the file says afterwards ('match' when recorded now or before, 'mismatch' if a rival key won).
   */
  async addIfUnknown(address: string, port: number, blob: Buffer): Promise<HostKeyCheck> {
    return this.locked(async () => {
      const entries = await this.entries()
      const before = checkHostKey(entries, address, port, blob)
      if (before.status !== 'unknown') return before
      let prefix = ''
      try {
        const s = await stat(this.path)
        if (s.size > 0) {
          const fh = await open(this.path, 'r')
          const last = Buffer.alloc(1)
          await fh.read(last, 0, 1, s.size - 1)
          await fh.close()
          if (last[0] !== 0x0a) prefix = '\n'
        }
      } catch {
        await mkdir(dirname(this.path), {recursive: true, mode: 0o700})
      }
      await appendFile(this.path, `${prefix}${hostKeyName(address, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`, {mode: 0o644})
      const after = checkHostKey(await this.entries(), address, port, blob)
      return after
    })
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(this.path) ?? Promise.resolve()
    const run = prev.catch(() => undefined).then(() => this.withLockFile(fn))
    queues.set(this.path, run)
    try {
      return await run
    } finally {
      if (queues.get(this.path) === run) queues.delete(this.path)
    }
  }

  // A lock file guards against a second osctl process appending at the same moment.
  private async withLockFile<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(dirname(this.path), {recursive: true, mode: 0o700})
    // A lock older than any append could take was left by a crashed run.
    return withFileLock(`${this.path}.osctl-lock`, fn, {waitMs: 40_000, staleMs: 30_000, everyMs: 50})
  }
}
