import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'

import {CACHE_DIR} from '../paths.js'
import {withFileLock} from '../site/file-lock.js'

/**
 * Runs fn holding this machine's lock for one image content (its content hash): two osctl
 * processes that need the same image at once (two labs, two sites, a test run beside a demo)
 * build it once; the second waits, then finds it built. fn must look again before building.
 */
export async function withBuildLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(CACHE_DIR, 'build-locks')
  await mkdir(dir, {recursive: true})
  // A cold base image takes minutes on two cores; a holder that died is taken over at once (its pid is gone).
  return withFileLock(join(dir, `${key.replace(/[^\w.-]/g, '_')}.lock`), fn, {waitMs: 3_600_000, everyMs: 1000})
}
