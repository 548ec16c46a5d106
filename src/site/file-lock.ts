import {open, readFile, rm, stat} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'

import {OsctlError} from '../errors.js'

export interface FileLockOptions {
  /** How long to wait for another holder before failing. */
  waitMs: number
  /** A lock file older than this is taken as left by a crashed holder, whatever its pid says. */
  staleMs?: number
  /** Poll interval while waiting. */
  everyMs?: number
}

/** Whether the process of that pid still runs (on this machine). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Runs fn while holding LOCK, a file made with O_EXCL that holds the holder's pid: one osctl
 * process at a time on this machine. A lock whose pid is gone (a killed run) or older than staleMs
 * is removed and taken over.
 */
export async function withFileLock<T>(lock: string, fn: () => Promise<T>, opts: FileLockOptions): Promise<T> {
  const deadline = Date.now() + opts.waitMs
  for (;;) {
    try {
      const fh = await open(lock, 'wx')
      await fh.writeFile(String(process.pid))
      await fh.close()
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const [age, pid] = await Promise.all([
        stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0),
        readFile(lock, 'utf8').then((s) => Number.parseInt(s, 10), () => Number.NaN),
      ])
      // An empty file is a holder between open and write: not stale unless old.
      const gone = Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid)
      if (gone || (opts.staleMs !== undefined && age > opts.staleMs)) await rm(lock, {force: true})
      else if (Date.now() > deadline) throw new OsctlError('SITE_LOCKED', `${lock} is held by process ${Number.isNaN(pid) ? '(unknown)' : pid}`, {hint: 'wait for that osctl to end, or remove the file if no osctl runs'})
      else await sleep((opts.everyMs ?? 50) * (0.5 + Math.random()))
    }
  }
  try {
    return await fn()
  } finally {
    await rm(lock, {force: true})
  }
}
