import {OsctlError} from '../errors.js'
import {Host} from '../hosts/host.js'
import {HistoryEntry, SlotInfo, currentLink, historyFile, slotDir, systemDir} from './layout.js'

export interface SystemState {
  name: string
  current?: SlotInfo
  /** The other slot: the previous revision, what a rollback returns to. */
  previous?: SlotInfo
  history: HistoryEntry[]
}

/** Reads and writes a system container's on-host state (slots, `current`, history). */
export class SlotStore {
  constructor(private readonly host: Host) {}

  async read(name: string): Promise<SystemState> {
    const link = await this.host.exec(['readlink', currentLink(name)])
    const currentSlot = link.exitCode === 0 ? Number(/slot-(\d)/.exec(link.stdout)?.[1]) : undefined
    const infos = await Promise.all([0, 1].map((s) => this.slotInfo(name, s)))
    const history = await this.history(name)
    const current = currentSlot === undefined ? undefined : infos[currentSlot]
    const previous = currentSlot === undefined ? undefined : infos[1 - currentSlot]
    return {name, current, previous, history}
  }

  async slotInfo(name: string, slot: number): Promise<SlotInfo | undefined> {
    const raw = await this.host.readFileIfExists(`${slotDir(name, slot)}/info.json`)
    if (!raw) return undefined
    try {
      return JSON.parse(raw.toString('utf8')) as SlotInfo
    } catch (err) {
      throw new OsctlError('INTERNAL', `${this.host.name}:${slotDir(name, slot)}/info.json is not valid JSON`, {cause: err, hint: `Remove the slot with \`osctl system remove ${name}\` and bootstrap again.`})
    }
  }

  async history(name: string): Promise<HistoryEntry[]> {
    const raw = await this.host.readFileIfExists(historyFile(name))
    return raw ? (JSON.parse(raw.toString('utf8')) as HistoryEntry[]) : []
  }

  async appendHistory(name: string, entry: HistoryEntry): Promise<void> {
    const history = await this.history(name)
    for (const h of history) if (h.outcome === 'active') h.outcome = 'superseded'
    history.push(entry)
    await this.host.writeFileAtomic(historyFile(name), JSON.stringify(history, null, 2) + '\n')
  }

  async markLast(name: string, outcome: HistoryEntry['outcome'], reason?: string): Promise<void> {
    const history = await this.history(name)
    const last = history.at(-1)
    if (!last) return
    last.outcome = outcome
    if (reason) last.reason = reason
    await this.host.writeFileAtomic(historyFile(name), JSON.stringify(history, null, 2) + '\n')
  }

  /** After an automatic rollback the restored revision is the active one again. */
  async reactivate(name: string, revision: number): Promise<void> {
    const history = await this.history(name)
    const entry = history.filter((h) => h.revision === revision).at(-1)
    if (!entry) return
    entry.outcome = 'active'
    await this.host.writeFileAtomic(historyFile(name), JSON.stringify(history, null, 2) + '\n')
  }

  nextRevision(state: SystemState): number {
    return Math.max(0, ...state.history.map((h) => h.revision), state.current?.revision ?? 0, state.previous?.revision ?? 0) + 1
  }

  /** Atomic flip: a new symlink renamed over the old one, never a moment without `current`. */
  async flip(name: string, slot: number): Promise<void> {
    const dir = systemDir(name)
    await this.host.run(['sh', '-c', `ln -sfn slot-${slot} "${dir}/current.new" && mv -T "${dir}/current.new" "${dir}/current"`])
  }
}
