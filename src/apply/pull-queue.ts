/** Lexicographic: the lower comes first ([0, 2] before [1, 0]). */
export type PullRank = readonly number[]

export interface QueuedPull<T> {
  promise: Promise<T>
  /** Someone waits for it now: served before every pull nobody waits for yet (a no-op once started). */
  bump(): void
  /** Not started yet: dropped, its promise rejects with `reason`; returns whether it was. */
  drop(reason: Error): boolean
}

interface Entry {
  rank: PullRank
  /** The host it pulls to: at most `perHost` of a host's pulls run at once. */
  host: string
  seq: number
  /** Order of the bump; bumped entries go first, in the order they were awaited. */
  bumped?: number
  start(): void
  reject(err: Error): void
}

/**
 * The site's downloads of images a host does not have yet: one queue across every host of a deploy,
 * at most `limit` at once (osctl.yml image_pull_concurrency) and `perHost` on one host, lowest rank
 * first. Hosts all pulling from the one site registry at once made every pull slow (20 hosts
 * decompressing on two cores), so the services the deploy needs first waited behind compute images
 * needed minutes later; one host's pulls side by side only delay the one needed first.
 * Nothing starts before `opened` settles, so every host's planned pulls are ranked together
 * instead of the first host to answer taking the slots.
 */
export class PullQueue {
  private active = 0
  private readonly perHostActive = new Map<string, number>()
  private seq = 0
  private bumps = 0
  private open = false
  private readonly waiting: Entry[] = []

  constructor(
    private readonly limit: number,
    opened: Promise<unknown> = Promise.resolve(),
    private readonly perHost = 1,
  ) {
    for (const n of [limit, perHost]) if (!Number.isInteger(n) || n < 1) throw new RangeError(`pull concurrency must be a positive integer, got ${n}`)
    const go = () => {
      this.open = true
      this.pump()
    }
    opened.then(go, go)
  }

  add<T>(rank: PullRank, job: () => Promise<T>, host = ''): QueuedPull<T> {
    let entry!: Entry
    const promise = new Promise<T>((resolve, reject) => {
      entry = {
        rank,
        host,
        seq: this.seq++,
        reject,
        start: () => {
          this.active++
          this.perHostActive.set(host, (this.perHostActive.get(host) ?? 0) + 1)
          // A job that throws synchronously is a failed pull like any other.
          Promise.resolve()
            .then(job)
            .then(resolve, reject)
            .finally(() => {
              this.active--
              this.perHostActive.set(host, this.perHostActive.get(host)! - 1)
              this.pump()
            })
        },
      }
    })
    this.waiting.push(entry)
    this.pump()
    return {
      promise,
      bump: () => {
        if (entry.bumped === undefined && this.waiting.includes(entry)) entry.bumped = this.bumps++
      },
      drop: (reason) => {
        const i = this.waiting.indexOf(entry)
        if (i < 0) return false
        this.waiting.splice(i, 1)
        entry.reject(reason)
        return true
      },
    }
  }

  /** Pulls waiting for a slot (not started). */
  get queued(): number {
    return this.waiting.length
  }

  private pump(): void {
    if (!this.open) return
    while (this.active < this.limit) {
      let best = -1
      for (let i = 0; i < this.waiting.length; i++) {
        const e = this.waiting[i]
        if ((this.perHostActive.get(e.host) ?? 0) < this.perHost && (best < 0 || before(e, this.waiting[best]))) best = i
      }
      if (best < 0) return
      const [next] = this.waiting.splice(best, 1)
      next.start()
    }
  }
}

function before(a: Entry, b: Entry): boolean {
  if (a.bumped !== undefined || b.bumped !== undefined) {
    if (b.bumped === undefined) return true
    if (a.bumped === undefined) return false
    return a.bumped < b.bumped
  }
  const c = compareRanks(a.rank, b.rank)
  return c !== 0 ? c < 0 : a.seq < b.seq
}

/** Negative when `a` comes first; a missing place counts as 0. */
export function compareRanks(a: PullRank, b: PullRank): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
