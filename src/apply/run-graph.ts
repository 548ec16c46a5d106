/** What a running item may do while it runs (runGraph's `run`). */
export interface GraphRun {
  /**
   * Waits until these items ended (items not in the graph count as ended), giving the item's slot
   * back meanwhile so that what it waits for can run; rejects with the first of their failures.
   * Lets an item start on part of what it needs (`deps`) and wait for the rest halfway.
   */
  after(keys: string[]): Promise<void>
}

/**
 * Runs each item once every item it depends on (among these) has ended, at most `limit` at a time
 * (items `light` says are cheap do not count; an item waiting in `after` does not either).
 * Items must come in dependency order, as must the keys an item waits for in `after`. An item
 * whose dependency failed does not run and fails with that error. Resolves when everything ended;
 * rejects with the first failure only after every item that started has ended, so nothing keeps
 * running behind the caller (locks, sessions).
 */
export async function runGraph<T>(items: T[], key: (t: T) => string, deps: (t: T) => string[], limit: number, run: (t: T, g: GraphRun) => Promise<void>, light: (t: T) => boolean = () => false): Promise<void> {
  let active = 0
  const waiting: Array<() => void> = []
  const acquire = async () => {
    if (active < limit) {
      active++
      return
    }
    await new Promise<void>((resolve) => waiting.push(resolve))
  }
  // A freed slot goes straight to the next waiter, so the limit holds.
  const release = () => {
    const next = waiting.shift()
    if (next) next()
    else active--
  }
  const ended = new Map<string, Promise<void>>()
  const endOf = (keys: string[]) => Promise.all(keys.flatMap((d) => ended.get(d) ?? []))
  for (const item of items) {
    const before = endOf(deps(item))
    const isLight = light(item)
    // Several hosts of one item may wait at once: the slot goes back when the first waits and is
    // taken again when the last one's wait is over.
    let paused = 0
    const g: GraphRun = {
      after: async (keys) => {
        if (isLight) return endOf(keys).then(() => undefined)
        if (paused++ === 0) release()
        try {
          await endOf(keys)
        } finally {
          if (--paused === 0) await acquire()
        }
      },
    }
    ended.set(
      key(item),
      (async () => {
        await before
        // A light item (only checked, nothing changes) takes no slot.
        if (isLight) return run(item, g)
        await acquire()
        try {
          await run(item, g)
        } finally {
          release()
        }
      })(),
    )
  }
  const outcomes = await Promise.allSettled(ended.values())
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
  if (failure) throw failure.reason
}
