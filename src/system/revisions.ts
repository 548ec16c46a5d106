import {OsctlError} from '../errors.js'
import {Host} from '../hosts/host.js'
import {HistoryEntry, OCI_STORE, SlotInfo, bundleDir, revisionDir, slotDir, storeImage, systemDir, underOciLock} from './layout.js'
import {SystemState} from './slot-store.js'

/**
 * Rollback depth: how many revisions besides the running one keep their OCI image and record on
 * the host (both slots are always kept too). `osctl system rollback NAME --to REV` reaches these.
 */
export const SYSTEM_KEEP_REVISIONS = 3

/** What a revision ran with, recorded when it was installed: enough to rebuild its bundle from the OCI store. */
export interface RevisionRecord {
  info: SlotInfo
  /** The unit as written for `info.slot` (see reslotUnit). */
  unit: string
  /** The rendered runtime spec (bundle/config.json). */
  config: string
}

/** Which revisions the host still has the parts of. */
export interface RevisionInventory {
  /** Revisions whose image is tagged in the OCI store. */
  images: Set<number>
  /** Revisions with a complete record under revisions/<n>/. */
  records: Set<number>
  /** In a slot, or image and record both present: a rollback can return to it. */
  kept: Set<number>
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const failedOutcome = (o?: HistoryEntry['outcome']) => o === 'failed' || o === 'rolled-back'

/**
 * The revisions to keep: the running one, the K that ran most recently before it (a revision
 * returned to by a rollback counts from then, not from when it was installed), and both slots.
 * A revision whose last outcome is failed/rolled-back does not take a place: nobody returns to it
 * without --force, and it stays while a slot holds it.
 */
export function revisionsToKeep(state: Pick<SystemState, 'current' | 'previous' | 'history'>, keep = SYSTEM_KEEP_REVISIONS): Set<number> {
  const slots = [state.current, state.previous].filter((s): s is SlotInfo => s !== undefined).map((s) => s.revision)
  const recent: number[] = state.current ? [state.current.revision] : []
  const seen = new Set<number>(recent)
  for (const e of [...state.history].reverse()) {
    if (recent.length > keep) break
    if (seen.has(e.revision)) continue
    seen.add(e.revision)
    // The newest entry of a revision carries its latest outcome.
    if (!failedOutcome(e.outcome)) recent.push(e.revision)
  }
  return new Set([...slots, ...recent])
}

/** The revision records and OCI store images of one system container on one host. */
export class RevisionStore {
  constructor(private readonly host: Host) {}

  async save(name: string, rec: RevisionRecord): Promise<void> {
    const dir = revisionDir(name, rec.info.revision)
    await this.host.writeFileAtomic(`${dir}/config.json`, rec.config)
    await this.host.writeFileAtomic(`${dir}/unit`, rec.unit)
    // Written last: a record counts only once info.json exists.
    await this.host.writeFileAtomic(`${dir}/info.json`, JSON.stringify(rec.info, null, 2) + '\n')
  }

  /** Records a slot's revision before the slot is reused (hosts installed before records existed). */
  async saveFromSlot(name: string, info: SlotInfo): Promise<void> {
    if (await this.host.exists(`${revisionDir(name, info.revision)}/info.json`)) return
    const unit = await this.host.readFileIfExists(`${slotDir(name, info.slot)}/unit`)
    const config = await this.host.readFileIfExists(`${bundleDir(name, info.slot)}/config.json`)
    if (!unit || !config) return
    await this.save(name, {info, unit: unit.toString('utf8'), config: config.toString('utf8')})
  }

  async read(name: string, revision: number): Promise<RevisionRecord | undefined> {
    const dir = revisionDir(name, revision)
    const [info, unit, config] = await Promise.all(['info.json', 'unit', 'config.json'].map((f) => this.host.readFileIfExists(`${dir}/${f}`)))
    if (!info || !unit || !config) return undefined
    try {
      return {info: JSON.parse(info.toString('utf8')) as SlotInfo, unit: unit.toString('utf8'), config: config.toString('utf8')}
    } catch {
      return undefined
    }
  }

  /** Revisions tagged `<name>-r<n>` in the OCI store; the store is shared by all system containers. */
  async images(name: string): Promise<Set<number>> {
    const r = await this.host.exec(underOciLock('shared', ['umoci', 'ls', '--layout', OCI_STORE]), {timeoutMs: 660_000})
    // No store yet (nothing installed) lists nothing; a store umoci cannot read must not look empty to prune().
    if (r.exitCode !== 0) {
      if (!(await this.host.exists(`${OCI_STORE}/index.json`))) return new Set()
      throw new OsctlError('COMMAND_FAILED', `${this.host.name}: \`umoci ls --layout ${OCI_STORE}\` exited ${r.exitCode}: ${r.stderr.trim().split('\n').at(-1)}`, {
        hint: `Check the OCI store on ${this.host.name} (\`umoci ls --layout ${OCI_STORE}\`).`,
      })
    }
    const re = new RegExp(`^${escapeRe(name)}-r(\\d+)$`)
    return new Set(r.stdout.split('\n').map((l) => re.exec(l.trim())?.[1]).filter((n): n is string => n !== undefined).map(Number))
  }

  async records(name: string): Promise<Set<number>> {
    const r = await this.host.exec(['sh', '-c', 'cd "$1" 2>/dev/null && for d in */; do [ -f "$d/info.json" ] && echo "${d%/}"; done; true', 'records', `${systemDir(name)}/revisions`])
    return new Set(r.stdout.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number))
  }

  async inventory(name: string, state: Pick<SystemState, 'current' | 'previous'>): Promise<RevisionInventory> {
    const [images, records] = await Promise.all([this.images(name), this.records(name)])
    const kept = new Set([...images].filter((n) => records.has(n)))
    for (const s of [state.current, state.previous]) if (s) kept.add(s.revision)
    return {images, records, kept}
  }

  /**
   * Removes the images and records of every revision revisionsToKeep() leaves out, then lets umoci
   * drop the blobs no tag reaches. Returns the revisions removed.
   */
  async prune(name: string, state: Pick<SystemState, 'current' | 'previous' | 'history'>, keep = SYSTEM_KEEP_REVISIONS): Promise<number[]> {
    const wanted = revisionsToKeep(state, keep)
    const [images, records] = await Promise.all([this.images(name), this.records(name)])
    const drop = [...new Set([...images, ...records])].filter((n) => !wanted.has(n)).sort((a, b) => a - b)
    for (const n of drop) {
      if (images.has(n)) await this.host.run(underOciLock('exclusive', ['umoci', 'rm', '--image', storeImage(name, n)]), {timeoutMs: 660_000})
      if (records.has(n)) await this.host.remove(revisionDir(name, n))
    }
    if (drop.some((n) => images.has(n))) await this.host.run(underOciLock('exclusive', ['umoci', 'gc', '--layout', OCI_STORE]), {timeoutMs: 900_000})
    return drop
  }

  /** Every image of this system container leaves the store (system remove); the other containers' stay. */
  async removeImages(name: string): Promise<void> {
    const images = await this.images(name)
    for (const n of images) await this.host.run(underOciLock('exclusive', ['umoci', 'rm', '--image', storeImage(name, n)]), {timeoutMs: 660_000})
    if (images.size > 0) await this.host.run(underOciLock('exclusive', ['umoci', 'gc', '--layout', OCI_STORE]), {timeoutMs: 900_000})
  }
}
