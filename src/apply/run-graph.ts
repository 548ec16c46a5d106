/** What a running item may do while it runs (runGraph's `run`). */
export interface GraphRun {
  /**
   * Waits until these items ended (items not in the graph count as ended), giving the item's slot
   * back meanwhile so that what it waits for can run; rejects with the first of their failures.
   * Lets an item start on part of what it needs (`deps`) and wait for the rest halfway. When all
   * of them already ended it returns at once, slot kept.
   */
  after(keys: string[]): Promise<void>
  /** Waits for `p`, the slot given back meanwhile as in `after` (the item waits for a part of itself that waits). */
  idle<T>(p: Promise<T>): Promise<T>
}

export interface GraphOptions<T> {
  /** Cheap items (only checked, nothing changes): they take no slot. */
  light?: (t: T) => boolean
  /** Higher first among the items waiting for a slot to start. */
  priority?: (t: T) => number
  /** What an item waits for, once its dependencies ended, before it asks for a slot (its images). */
  before?: (t: T) => Promise<void>
}

/**
 * Runs each item once every item it depends on (among these) has ended, at most `limit` at a time
 * (items `light` says are cheap do not count; an item waiting in `after` does not either, and
 * gets a slot back before any item that has not started). Of the ready items waiting for a slot,
 * the one of highest `priority` goes first (equal ones: the first ready).
 * Items must come in dependency order, as must the keys an item waits for in `after`. An item
 * whose dependency failed does not run and fails with that error. Resolves when everything ended;
 * rejects with the first failure only after every item that started has ended, so nothing keeps
 * running behind the caller (locks, sessions).
 */
export async function runGraph<T>(items: T[], key: (t: T) => string, deps: (t: T) => string[], limit: number, run: (t: T, g: GraphRun) => Promise<void>, opts: GraphOptions<T> = {}): Promise<void> {
  const light = opts.light ?? (() => false)
  let active = 0
  // A resuming item goes ahead of those that have not started (it is halfway through a change),
  // in the order they resumed; the others by priority.
  const resuming: Array<() => void> = []
  const waiting: Array<{go: () => void; priority: number}> = []
  // Free slots are handed out once the current turn of the event loop is over, so that items that
  // became ready together (the dependents of one that just ended) go by priority, not by who asked
  // first; the limit holds as every slot is taken here.
  let handing = false
  const handOut = () => {
    if (handing) return
    handing = true
    setImmediate(() => {
      handing = false
      while (active < limit) {
        const next = resuming.shift() ?? waiting.shift()?.go
        if (!next) return
        active++
        next()
      }
    })
  }
  const acquire = (priority: number | 'resuming') =>
    new Promise<void>((go) => {
      if (priority === 'resuming') resuming.push(go)
      else waiting.splice(insertAt(waiting, priority), 0, {go, priority})
      handOut()
    })
  const release = () => {
    active--
    handOut()
  }
  const ended = new Map<string, Promise<void>>()
  const settled = new Set<string>()
  const endOf = (keys: string[]) => Promise.all(keys.flatMap((d) => ended.get(d) ?? []))
  for (const item of items) {
    const before = endOf(deps(item))
    const isLight = light(item)
    // Several hosts of one item may wait at once: the slot goes back when the first waits and is
    // taken again when the last one's wait is over. The changes of `paused` and the slot run one
    // after another (a host that starts waiting while another re-acquires waits for it first).
    let paused = 0
    let turn = Promise.resolve()
    const serial = (fn: () => void | Promise<void>) => (turn = turn.then(fn))
    const pausedWhile = async <R>(p: Promise<R>): Promise<R> => {
      await serial(() => {
        if (paused++ === 0) release()
      })
      try {
        return await p
      } finally {
        await serial(async () => {
          if (--paused === 0) await acquire('resuming')
        })
      }
    }
    const g: GraphRun = {
      after: async (keys) => {
        if (isLight || keys.every((k) => !ended.has(k) || settled.has(k))) return endOf(keys).then(() => undefined)
        await pausedWhile(endOf(keys))
      },
      idle: (p) => (isLight ? p : pausedWhile(p)),
    }
    const k = key(item)
    const done = (async () => {
      await before
      // A light item (only checked, nothing changes) takes no slot.
      if (isLight) return run(item, g)
      await opts.before?.(item)
      await acquire(opts.priority?.(item) ?? 0)
      try {
        await run(item, g)
      } finally {
        release()
      }
    })()
    ended.set(k, done)
    done.then(
      () => settled.add(k),
      () => settled.add(k),
    )
  }
  const outcomes = await Promise.allSettled(ended.values())
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
  if (failure) throw failure.reason
}

/** Where an item of `priority` goes: after every waiter of the same or higher priority. */
function insertAt(waiting: Array<{priority: number}>, priority: number): number {
  const i = waiting.findIndex((w) => w.priority < priority)
  return i < 0 ? waiting.length : i
}
