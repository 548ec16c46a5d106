import {OsctlError} from '../errors.js'
import {HistoryEntry, SlotInfo} from './layout.js'
import {RevisionInventory, SYSTEM_KEEP_REVISIONS} from './revisions.js'
import {SystemState} from './slot-store.js'

export interface RollbackOptions {
  /** Revision to return to; default: the one that ran before the current one. */
  to?: number
  /** Allow a revision whose last outcome is failed or rolled-back. */
  force?: boolean
}

export interface RollbackPlan {
  name: string
  /** What runs now; it is put back if the target does not become healthy. */
  current: SlotInfo
  revision: number
  /** Set when the other slot holds the target: a link flip. Otherwise it is unpacked from the OCI store. */
  slot?: SlotInfo
}

const failedOutcome = (o?: HistoryEntry['outcome']) => o === 'failed' || o === 'rolled-back'
/** A revision's newest entry carries its latest outcome (a later failed rollback to it counts). */
const lastOutcome = (history: HistoryEntry[], revision: number) => history.filter((e) => e.revision === revision).at(-1)?.outcome

/**
 * The revision that ran before the current one did: walking back from the current revision's last
 * entry, the first other revision that served. Two rollbacks in a row therefore undo each other,
 * as flipping slots always did; a revision that failed is never the default.
 */
export function previousRevision(state: Pick<SystemState, 'current' | 'previous' | 'history'>): number | undefined {
  const cur = state.current?.revision
  if (cur === undefined) return undefined
  const h = state.history
  const i = h.map((e) => e.revision).lastIndexOf(cur)
  // A history that lost track of the current revision: the other slot is all there is.
  if (i === -1) return state.previous && !failedOutcome(lastOutcome(h, state.previous.revision)) ? state.previous.revision : undefined
  const judged = new Set<number>([cur])
  for (let j = i - 1; j >= 0; j--) {
    const e = h[j]
    if (judged.has(e.revision)) continue
    judged.add(e.revision)
    if (!failedOutcome(lastOutcome(h, e.revision))) return e.revision
  }
  return undefined
}

/** Decides where a rollback goes, or says in one error why it cannot; reads nothing and changes nothing. */
export function planRollback(host: string, state: SystemState, inventory: RevisionInventory, opts: RollbackOptions = {}): RollbackPlan {
  const {name} = state
  const where = opts.to === undefined ? {} : {location: '--to'}
  const historyHint = `\`osctl system history ${name}\` lists the revisions and which are kept.`
  if (!state.current) {
    throw new OsctlError('USAGE', `${host}: ${name} is not installed; there is nothing to roll back`, {hint: 'Install it with `osctl bootstrap`.'})
  }
  const cur = state.current.revision
  const n = opts.to ?? previousRevision(state)
  if (n === undefined) {
    const other = state.previous
    const otherFailed = other && failedOutcome(lastOutcome(state.history, other.revision))
    throw new OsctlError('USAGE', `${host}: ${name} has no earlier revision to roll back to (revision ${cur} is the first that served)`, {
      hint: otherFailed
        ? `Revision ${other.revision} in the other slot failed its health check; \`osctl system rollback ${name} --to ${other.revision} --force\` returns to it anyway.`
        : historyHint,
    })
  }
  if (n === cur) {
    // details.alreadyCurrent lets a multi-host rollback skip hosts a previous (partial) run already moved.
    throw new OsctlError('USAGE', `${host}: ${name} already runs revision ${n}`, {...where, hint: historyHint, details: {alreadyCurrent: state.current}})
  }
  const entries = state.history.filter((e) => e.revision === n)
  const slot = state.previous?.revision === n ? state.previous : undefined
  if (entries.length === 0 && !slot) {
    const known = [...new Set(state.history.map((e) => e.revision))].sort((a, b) => a - b)
    throw new OsctlError('USAGE', `${host}: ${name} has no revision ${n} (revisions: ${known.join(', ') || 'none'})`, {...where, hint: historyHint})
  }
  const last = entries.at(-1)
  if (last && failedOutcome(last.outcome) && !opts.force) {
    throw new OsctlError('USAGE', `${host}: ${name} revision ${n} failed its health check and was ${last.outcome === 'failed' ? 'left failed' : 'rolled back'}${last.reason ? ` (${last.reason})` : ''}`, {
      ...where,
      hint: 'Rolling back to it would break the service; pass --force if you really mean it.',
    })
  }
  if (!slot && !inventory.kept.has(n)) {
    const what = inventory.images.has(n) ? 'its record (config.json, unit) is not on the host' : 'its image was pruned from the OCI store'
    throw new OsctlError('USAGE', `${host}: ${name} revision ${n} is no longer kept: ${what}`, {
      ...where,
      hint: `A host keeps the running revision, the ${SYSTEM_KEEP_REVISIONS} that ran before it and both slots; ${historyHint} To run that image again, upgrade to its tag (\`osctl system upgrade ${name} --tag …\`).`,
    })
  }
  return {name, current: state.current, revision: n, slot}
}
