import {hostname, userInfo} from 'node:os'
import {posix} from 'node:path'

import {OsctlError} from '../errors.js'
import {Host} from '../hosts/host.js'
import {pidAlive} from '../site/file-lock.js'

/**
 * The journal of operations in flight on a host, one file per service:
 *
 *   /var/lib/osctl/journal/<service>.json   JournalEntry (below)
 *
 * Written before an operation changes anything of the service on that host, removed when it ends
 * in an orderly way (success, or failure handled: its outcome is then in the ledger). A file left
 * behind by a process that is gone means osctl was killed in the middle: the next command on that
 * host says so, `service upgrade`/`deploy` complete the change and `service rollback` undoes it.
 * While the process that wrote it is alive, the file is also a lock: other osctl runs refuse to
 * touch the service there.
 */
export const JOURNAL_ROOT = '/var/lib/osctl/journal'
export const journalFile = (service: string) => posix.join(JOURNAL_ROOT, `${service}.json`)

export type JournalOp = 'deploy' | 'upgrade' | 'rollback'

export interface JournalEntry {
  format: 1
  op: JournalOp
  service: string
  host: string
  /** One osctl invocation (all hosts and services it changes): see newOperationId. */
  operation: string
  /** The revision being put in place. */
  revision: number
  /** The ledger's current revision when the operation began: what undoing it returns to. */
  current?: number
  /** Revision whose pre-change database snapshot this operation took (`service upgrade`). */
  backup?: number
  /** The osctl process: machine, pid, user. */
  machine: string
  pid: number
  user: string
  startedAt: string
}

/** running: its process is alive (on this machine) or may be (another machine, recent); interrupted: it is gone. */
export type JournalState = 'running' | 'interrupted' | 'mine'

export interface JournalFinding {
  entry: JournalEntry
  state: JournalState
}

/** How long an entry written from another machine counts as possibly still running. */
const FOREIGN_GRACE_MS = 60 * 60 * 1000

export function journalState(entry: Pick<JournalEntry, 'machine' | 'pid' | 'startedAt'>, now = Date.now()): JournalState {
  if (entry.machine === hostname()) {
    if (entry.pid === process.pid) return 'mine'
    return pidAlive(entry.pid) ? 'running' : 'interrupted'
  }
  return now - Date.parse(entry.startedAt) < FOREIGN_GRACE_MS ? 'running' : 'interrupted'
}

/** Names one osctl invocation in journal entries and in the ledger records it writes. */
export function newOperationId(op: JournalOp): string {
  return `${op}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${hostname()}-${process.pid}`
}

/** Who this process is, as journal entries, host locks and drain markers record it. */
export function thisProcess(): Pick<JournalEntry, 'machine' | 'pid' | 'user' | 'startedAt'> {
  return {machine: hostname(), pid: process.pid, user: whoAmI(), startedAt: new Date().toISOString()}
}

/** A recorded osctl process and its command, for messages: `` `cmd` (osctl pid P on M, by U, since T) ``. */
export function describeProcess(h: Pick<JournalEntry, 'machine' | 'pid' | 'user' | 'startedAt'> & {command: string}): string {
  return `\`${h.command}\` (osctl pid ${h.pid} on ${h.machine}, by ${h.user}, since ${h.startedAt})`
}

export function whoAmI(): string {
  try {
    return process.env.SUDO_USER ?? userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}

export function describeEntry(e: JournalEntry): string {
  return `\`${e.op === 'deploy' ? 'deploy' : `service ${e.op}`}\` of ${e.service} to revision ${e.revision} (osctl pid ${e.pid} on ${e.machine}, started ${e.startedAt})`
}

export function parseJournal(host: string, service: string, text: string): JournalFinding {
  let entry: JournalEntry
  try {
    entry = JSON.parse(text) as JournalEntry
  } catch (err) {
    throw new OsctlError('INTERNAL', `${host}:${journalFile(service)} is not valid JSON`, {cause: err, hint: 'osctl writes it atomically; remove it if it was edited by hand.'})
  }
  return {entry, state: journalState(entry)}
}

export class Journal {
  constructor(private readonly host: Host) {}

  async read(service: string): Promise<JournalFinding | undefined> {
    const raw = await this.host.readFileIfExists(journalFile(service))
    return raw ? parseJournal(this.host.name, service, raw.toString('utf8')) : undefined
  }

  /** Every entry on the host (all services). */
  async list(): Promise<JournalFinding[]> {
    const r = await this.host.exec(['sh', '-c', 'ls -1 "$1" 2>/dev/null || true', 'osctl', JOURNAL_ROOT])
    const services = r.stdout.split('\n').filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length))
    const found = await Promise.all(services.map((s) => this.read(s)))
    return found.filter((f): f is JournalFinding => f !== undefined)
  }

  /**
   * Records an operation before it changes the host. Refuses while another live osctl holds the
   * service here; an interrupted entry must have been dealt with by the caller (it is replaced).
   */
  async begin(e: Omit<JournalEntry, 'format' | 'host' | 'machine' | 'pid' | 'user' | 'startedAt'>): Promise<JournalEntry> {
    const existing = await this.read(e.service)
    if (existing?.state === 'running') throw busy(this.host.name, existing.entry)
    const entry: JournalEntry = {format: 1, ...e, host: this.host.name, ...thisProcess()}
    if (existing) await this.host.remove(journalFile(e.service))
    // Created exclusively (with its directory, root-only): of two osctl starting at once, one holds
    // the service and the other refuses.
    if (!(await this.host.createFile(journalFile(e.service), JSON.stringify(entry, null, 2) + '\n', {mode: 0o600}))) {
      const holder = await this.read(e.service)
      throw busy(this.host.name, holder?.entry ?? entry)
    }
    return entry
  }

  /** The operation ended (its outcome is in the ledger): forget it. Only this process's own entry. */
  async end(service: string): Promise<void> {
    const existing = await this.read(service)
    if (existing && existing.state === 'mine') await this.host.remove(journalFile(service))
  }

  /** After an interrupted entry was completed or undone by this process. */
  async clear(service: string): Promise<void> {
    await this.host.remove(journalFile(service))
  }
}

export function busy(host: string, e: JournalEntry): OsctlError {
  return new OsctlError('USAGE', `${host}: ${e.service} is being changed by another osctl: ${describeEntry(e)}`, {
    hint: `Wait for it to finish. If that process is really gone, remove ${journalFile(e.service)} on ${host}, then run the command again.`,
  })
}

/** The words every command uses to report an operation in flight or interrupted. */
export function interruptedNotice(e: JournalEntry, state: JournalState): string {
  if (state === 'running') return `${e.host}: ${e.service} is being changed right now: ${describeEntry(e)}`
  const complete = e.op === 'rollback' ? `\`osctl service rollback ${e.service}\`` : e.op === 'upgrade' ? `\`osctl service upgrade ${e.service} --tag …\`` : '`osctl deploy`'
  const undo = e.op === 'rollback' ? '' : `, \`osctl service rollback ${e.service}\` undoes it`
  return `${e.host}: osctl was killed during a ${describeEntry(e)}; ${complete} completes it${undo}`
}

/** The entry of `service` on each host that has one (running ones refused: another osctl is at work). */
export async function pendingOperations(hosts: Host[], service: string): Promise<Map<string, JournalEntry>> {
  const found = new Map<string, JournalEntry>()
  for (const h of hosts) {
    const f = await new Journal(h).read(service)
    if (!f || f.state === 'mine') continue
    if (f.state === 'running') throw busy(h.name, f.entry)
    found.set(h.name, f.entry)
  }
  return found
}
