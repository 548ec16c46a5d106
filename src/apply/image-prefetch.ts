import type {Reporter} from '../events/reporters.js'
import type {ContainerClient} from '../docker/docker-client.js'
import type {ImageInfo} from '../docker/types.js'
import {Semaphore} from '../hosts/semaphore.js'
import {PullQueue, type PullRank, type QueuedPull} from './pull-queue.js'

export interface PrefetchOptions {
  /**
   * Where downloads of images the host does not have wait for a slot: a deploy's one queue for
   * every host (pull-queue.ts). Without it: this host's own, one pull at a time.
   */
  queue?: PullQueue
  /** A ref's place in the queue (pull-priority.ts); without it, the order of `refs`. */
  rank?: (ref: string) => PullRank
  /**
   * The engine's image of a tag it has, when that is known to be what the registry serves now
   * (deploy.ts: the same manifest digest): it is used as it is, without asking the registry again.
   */
  current?: (ref: string) => Promise<ImageInfo | undefined>
}

/**
 * Every image a host will need in this deploy, queued from the start: a service then waits only for
 * what is not there yet, instead of pulling at its turn while its dependencies' migrations run.
 * A service that asks for an image still queued moves it to the front of the queue. A failed pull
 * fails the service that needs the image, at its turn, with the same error a pull at that moment
 * would give.
 */
export class ImagePrefetch {
  private readonly pulls = new Map<string, Promise<ImageInfo>>()
  private readonly queued = new Map<string, QueuedPull<ImageInfo>>()
  /** Asked for by a service (possibly before the host's image list came back and the pull was queued). */
  private readonly awaited = new Set<string>()
  /** Dropped by cancel() before anyone asked for them. */
  private readonly dropped = new Set<string>()
  private cancelled?: Error
  private readonly queue: PullQueue
  private readonly rank: (ref: string) => PullRank
  /** Resolves once the host's image list came back and every pull it lacks is queued (or dropped). */
  readonly listed: Promise<void>

  constructor(
    private readonly docker: ContainerClient,
    refs: string[],
    private readonly reporter: Reporter,
    private readonly host: string,
    /** Tags the engine already has: their pulls only ask the registry whether the tag moved, a few at once beside the queue. */
    present: Promise<Set<string>> = Promise.resolve(new Set()),
    opts: PrefetchOptions = {},
  ) {
    const have = present.catch(() => new Set<string>())
    const unique = [...new Set(refs)]
    this.queue = opts.queue ?? new PullQueue(1, have)
    this.rank = opts.rank ?? ((ref: string) => [unique.indexOf(ref)])
    const checks = new Semaphore(4)
    for (const ref of unique) {
      const pull = have.then((tags) => {
        if (tags.has(ref)) return checks.use(async () => (await opts.current?.(ref)) ?? this.fetch(ref))
        if (this.cancelled && !this.awaited.has(ref)) {
          this.dropped.add(ref)
          throw this.cancelled
        }
        return this.enqueue(ref)
      })
      // Handled here so a pull nobody awaits (its host failed earlier) is not an unhandled rejection.
      pull.catch(() => {})
      this.pulls.set(ref, pull)
    }
    // Registered after every ref's callback on `have`, so it runs after them.
    this.listed = have.then(() => undefined)
  }

  /** The prefetched pull of `ref` (moved to the front of the queue if still waiting), or a pull now for one that was not planned. */
  pull(ref: string): Promise<ImageInfo> {
    const planned = this.pulls.get(ref)
    if (!planned) return this.fetch(ref)
    this.awaited.add(ref)
    // Dropped, yet a service of this host still runs and needs it: queued again, at the front.
    if (this.dropped.delete(ref)) {
      const again = this.enqueue(ref)
      again.catch(() => {})
      this.pulls.set(ref, again)
      return again
    }
    this.queued.get(ref)?.bump()
    return planned
  }

  /**
   * Ends when the planned pull of `ref` ended (either way; at once for a ref not planned), without
   * moving it in the queue: deploy waits so for a service's images before giving it a slot.
   */
  async wait(ref: string): Promise<void> {
    await this.listed
    await this.pulls.get(ref)?.catch(() => undefined)
  }

  /**
   * The host is out of this deploy: its pulls still waiting for a slot that no service asked for
   * are dropped (they reject with `reason`), so the other hosts' pulls do not wait behind them.
   * Pulls under way finish; one dropped and asked for after all is queued again.
   */
  cancel(reason: Error): number {
    this.cancelled = reason
    let n = 0
    for (const [ref, q] of this.queued) {
      if (!this.awaited.has(ref) && q.drop(reason)) {
        this.dropped.add(ref)
        n++
      }
    }
    return n
  }

  /** Ends when every planned pull ended (succeeded, failed or dropped). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.pulls.values())
  }

  private enqueue(ref: string): Promise<ImageInfo> {
    const queuedAt = performance.now()
    const q = this.queue.add(this.rank(ref), async () => {
      const startedAt = performance.now()
      const image = await this.fetch(ref)
      this.reporter.emit('image.pulled', {ref, seconds: (performance.now() - startedAt) / 1000, queuedSeconds: (startedAt - queuedAt) / 1000}, this.host)
      return image
    }, this.host)
    this.queued.set(ref, q)
    if (this.awaited.has(ref)) q.bump()
    return q.promise
  }

  private fetch(ref: string): Promise<ImageInfo> {
    return this.docker.pullImage(ref, {onProgress: (p) => this.reporter.emit('image.pull.progress', {ref, ...p}, this.host)})
  }
}
