/** What a running item may do while it runs (runGraph's `run`). */
export interface GraphRun {
  /**
   * Waits until these items ended (items not in the graph count as ended), giving the item's slot
   * back meanwhile so that what it waits for can run; rejects with the first of their failures.
   * Lets an item start on part of what it needs (`deps`) and wait for the rest halfway. When all
   * of them already ended it returns at once, slot kept.
   */
  after(keys: string[]): Promise<void>
}

/**
 * Runs each item once every item it depends on (among these) has ended, at most `limit` at a time
 * (items `light` says are cheap do not count; an item waiting in `after` does not either, and
 * gets a slot back before any item that has not started).
 * Items must come in dependency order, as must the keys an item waits for in `after`. An item
 * whose dependency failed does not run and fails with that error. Resolves when everything ended;
 * rejects with the first failure only after every item that started has ended, so nothing keeps
 * running behind the caller (locks, sessions).
 */
export async function runGraph<T>(items: T[], key: (t: T) => string, deps: (t: T) => string[], limit: number, run: (t: T, g: GraphRun) => Promise<void>, light: (t: T) => boolean = () => false): Promise<void> {
  let active = 0
  const waiting: Array<() => void> = []
  // A resuming item goes ahead of those that have not started: it is halfway through a change.
  const acquire = async (resuming = false) => {
    if (active < limit) {
      active++
      return
    }
    await new Promise<void>((resolve) => (resuming ? waiting.unshift(resolve) : waiting.push(resolve)))
  }
  // A freed slot goes straight to the next waiter, so the limit holds.
  const release = () => {
    const next = waiting.shift()
    if (next) next()
    else active--
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
    const g: GraphRun = {
      after: async (keys) => {
        if (isLight || keys.every((k) => !ended.has(k) || settled.has(k))) return endOf(keys).then(() => undefined)
        await serial(() => {
          if (paused++ === 0) release()
        })
        try {
          await endOf(keys)
        } finally {
          await serial(async () => {
            if (--paused === 0) await acquire(true)
          })
        }
      },
    }
    const k = key(item)
    const done = (async () => {
      await before
      // A light item (only checked, nothing changes) takes no slot.
      if (isLight) return run(item, g)
      await acquire()
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
