/** Bounds how many tasks run at once (SSH channels per connection, hosts per fan-out). */
export class Semaphore {
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`)
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve))
    else this.active++
    try {
      return await fn()
    } finally {
      // Hand the slot straight to the next waiter so `active` never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift()
      if (next) next()
      else this.active--
    }
  }
}
