/**
 * Runs each item once every item it depends on (among these) has ended, at most `limit` at a time
 * (items `light` says are cheap do not count).
 * Items must come in dependency order. An item whose dependency failed does not run and fails with
 * that error. Resolves when everything ended; rejects with the first failure only after every item
 * that started has ended, so nothing keeps running behind the caller (locks, sessions).
 */
export async function runGraph<T>(items: T[], key: (t: T) => string, deps: (t: T) => string[], limit: number, run: (t: T) => Promise<void>, light: (t: T) => boolean = () => false): Promise<void> {
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
  for (const item of items) {
    const before = deps(item).flatMap((d) => ended.get(d) ?? [])
    ended.set(
      key(item),
      (async () => {
        await Promise.all(before)
        // A light item (only checked, nothing changes) takes no slot.
        if (light(item)) return run(item)
        await acquire()
        try {
          await run(item)
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
