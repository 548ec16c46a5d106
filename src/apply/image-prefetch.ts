import type {Reporter} from '../events/reporters.js'
import type {ContainerClient} from '../docker/docker-client.js'
import type {ImageInfo} from '../docker/types.js'
import {Semaphore} from '../hosts/semaphore.js'

/**
 * Every image a host will need in this deploy, pulled one after another from the start, in the
 * order its services come: a service then waits only for what is not there yet, instead of
 * pulling at its turn while its dependencies' migrations run. A failed pull fails the service
 * that needs the image, at its turn, with the same error a pull at that moment would give.
 */
export class ImagePrefetch {
  private readonly pulls = new Map<string, Promise<ImageInfo>>()

  constructor(
    private readonly docker: ContainerClient,
    refs: string[],
    private readonly reporter: Reporter,
    private readonly host: string,
    /** Tags the engine already has: their pulls only ask the registry whether the tag moved, a few at once beside the chain. */
    present: Promise<Set<string>> = Promise.resolve(new Set()),
  ) {
    const have = present.catch(() => new Set<string>())
    const checks = new Semaphore(4)
    let chain: Promise<unknown> = have
    for (const ref of new Set(refs)) {
      const before = chain
      const pull = have.then((tags) => (tags.has(ref) ? checks.use(() => this.fetch(ref)) : before.then(() => this.fetch(ref))))
      // Handled here so a pull nobody awaits (its host failed earlier) is not an unhandled rejection.
      chain = have.then((tags) => (tags.has(ref) ? before : pull.catch(() => {})))
      pull.catch(() => {})
      this.pulls.set(ref, pull)
    }
  }

  /** The prefetched pull of `ref`, or a pull now for one that was not planned. */
  pull(ref: string): Promise<ImageInfo> {
    return this.pulls.get(ref) ?? this.fetch(ref)
  }

  /** Ends when every planned pull ended (succeeded or not). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.pulls.values())
  }

  private fetch(ref: string): Promise<ImageInfo> {
    return this.docker.pullImage(ref, {onProgress: (p) => this.reporter.emit('image.pull.progress', {ref, ...p}, this.host)})
  }
}
