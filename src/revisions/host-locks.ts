import {hostname} from 'node:os'
import {posix} from 'node:path'

import {OsctlError} from '../errors.js'
import type {LockClaim, LockClaimResult} from '../apply/host-state.js'
import type {Host} from '../hosts/host.js'
import {JournalEntry, describeProcess, journalState, thisProcess} from './journal.js'

export const LOCK_ROOT = '/var/lib/osctl/locks'

/**
 * Image pulls (deploy, service upgrade) and image prune exclude each other on a host: a prune
 * must never remove an image a deploy just pulled and has not yet recorded or run. Each side first
 * creates its own lock file (createFile: exclusive), then looks for the other side's; one of two
 * racing commands always sees the other, so they never both go on. Pulls from several osctl may
 * run at once (one file per process); prunes one at a time. A lock whose process is gone is stale.
 */
export type LockKind = 'pull' | 'prune'

type Holder = Pick<JournalEntry, 'machine' | 'pid' | 'user' | 'startedAt'> & {kind: LockKind; command: string}

const lockFile = (kind: LockKind) => posix.join(LOCK_ROOT, kind === 'prune' ? 'prune.json' : `pull-${hostname()}-${process.pid}.json`)
/** Locks this process holds, per host and kind, with how many callers share each. */
const held = new Map<string, number>()

/** The lock file this process takes for `kind`, and its content (one line): what observeHost can create in its own exec. */
export function lockClaim(kind: LockKind, command: string): LockClaim {
  const me: Holder = {kind, command, ...thisProcess()}
  return {file: lockFile(kind), data: JSON.stringify(me)}
}

/**
 * claimed: the claim (lockClaim) another command was given, and what it found (deploy's host
 * observation creates the lock in the same exec): when it created the file, no round trip of its
 * own; otherwise (it was there, the command failed) the lock is taken as without it.
 */
export async function takeLock(host: Host, kind: LockKind, command: string, claimed?: {claim: LockClaim; result: Promise<LockClaimResult | undefined>}): Promise<() => Promise<void>> {
  const key = `${host.name}\0${kind}`
  const release = async () => {
    const n = (held.get(key) ?? 1) - 1
    if (n > 0) return void held.set(key, n)
    held.delete(key)
    await host.remove(lockFile(kind))
  }
  if (held.has(key)) {
    held.set(key, held.get(key)! + 1)
    return release
  }
  const {file, data} = claimed?.claim ?? lockClaim(kind, command)
  const pre = await claimed?.result.catch(() => undefined)
  // Taken by another caller of this process while the claim's command ran: shared.
  if (held.has(key)) {
    held.set(key, held.get(key)! + 1)
    return release
  }
  // createFile makes LOCK_ROOT (root-only) when it is missing.
  // Created, and the other locks read, in one round trip (one SSH command) when nothing was there.
  const first: {created: boolean; dir?: Map<string, Buffer>} = pre?.created ? pre : await host.createFileAndReadDir(file, data + '\n', {mode: 0o600})
  if (!first.created) {
    const holder = (await holders(host)).find((h) => posix.basename(file) === h.file)
    if (claimed && holder?.state === 'mine') {
      // This process's file, which it does not hold: the claim's command created it, then failed.
      // Written again: what it says (since when) is this lock's.
      await host.writeFileAtomic(file, data + '\n', {mode: 0o600})
    } else {
      if (holder && holder.state !== 'interrupted') throw lockBusy(host.name, command, holder)
      // Left by a process that is gone: take it over.
      await host.remove(file)
      if (!(await host.createFile(file, data + '\n', {mode: 0o600}))) throw lockBusy(host.name, command)
    }
  }
  held.set(key, 1)
  const all = first.dir ? holdersIn(first.dir) : await holders(host).catch(async (err: unknown) => {
    await release()
    throw err
  })
  const other = all.find((h) => h.kind !== kind && h.state === 'running')
  if (other) {
    await release()
    throw lockBusy(host.name, command, other)
  }
  // Locks of processes that are gone (killed, or their host went down before they could let go)
  // hold nothing: they go, so the directory says only what is true.
  for (const stale of all.filter((h) => h.state === 'interrupted' && h.file !== posix.basename(file))) await host.remove(posix.join(LOCK_ROOT, stale.file))
  return release
}

async function holders(host: Host): Promise<Array<Holder & {file: string; state: ReturnType<typeof journalState>}>> {
  return holdersIn(await host.readDir(LOCK_ROOT))
}

function holdersIn(dir: Map<string, Buffer>): Array<Holder & {file: string; state: ReturnType<typeof journalState>}> {
  const out: Array<Holder & {file: string; state: ReturnType<typeof journalState>}> = []
  for (const [f, raw] of dir) {
    if (!/^(prune|pull-.+)\.json$/.test(f)) continue
    try {
      const h = JSON.parse(raw.toString('utf8')) as Holder
      out.push({...h, file: f, state: journalState(h)})
    } catch {
      // Half a file cannot be: createFile links a whole one. Anything else is not ours to judge.
    }
  }
  return out
}

function lockBusy(host: string, command: string, h?: Holder): OsctlError {
  const who = h ? describeProcess(h) : 'another osctl'
  return new OsctlError('COMMAND_FAILED', `${host}: cannot ${command} while ${who} is ${h?.kind === 'prune' ? 'pruning images' : 'pulling images'} there`, {
    hint: 'Wait for it to finish and run the command again; a lock whose process is gone is taken over.',
  })
}

/** fn runs holding `kind` on every host (taken in parallel); a host that cannot be locked stops it before anything changed. */
export async function withLocks<T>(hosts: Host[], kind: LockKind, command: string, fn: () => Promise<T>): Promise<T> {
  const taken = await Promise.allSettled(hosts.map((h) => takeLock(h, kind, command)))
  const releaseAll = () => Promise.allSettled(taken.map((t) => (t.status === 'fulfilled' ? t.value() : undefined)))
  const refused = taken.find((t): t is PromiseRejectedResult => t.status === 'rejected')
  if (refused) {
    await releaseAll()
    throw refused.reason
  }
  try {
    return await fn()
  } finally {
    await releaseAll()
  }
}
