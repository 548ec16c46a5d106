import {execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {withFileLock} from '../../../src/site/file-lock.js'

describe('withFileLock: one holder at a time across osctl processes', () => {
  let dir = ''
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-lock-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('runs holders one after the other, never together, and removes the file after', async () => {
    const lock = join(dir, 'x.lock')
    let inside = 0
    let most = 0
    const order: number[] = []
    const holder = (i: number) =>
      withFileLock(
        lock,
        async () => {
          inside++
          most = Math.max(most, inside)
          expect(await readFile(lock, 'utf8')).toBe(String(process.pid))
          await sleep(30)
          order.push(i)
          inside--
          return i
        },
        {waitMs: 10_000, everyMs: 5},
      )
    expect(await Promise.all([holder(1), holder(2), holder(3)])).toEqual([1, 2, 3])
    expect(most).toBe(1)
    expect(order.sort()).toEqual([1, 2, 3])
    await expect(readFile(lock)).rejects.toThrow(/ENOENT/)
  })

  it('takes over a lock whose process is gone (a killed run)', async () => {
    const lock = join(dir, 'x.lock')
    const dead = await execa('sh', ['-c', 'echo $$'])
    await writeFile(lock, dead.stdout.trim())
    expect(await withFileLock(lock, async () => 'ran', {waitMs: 2000})).toBe('ran')
  })

  it('waits for a live holder and fails with a message naming it when the wait runs out; the holder keeps its lock', async () => {
    const lock = join(dir, 'x.lock')
    const holder = execa('sleep', ['30'])
    try {
      await writeFile(lock, String(holder.pid))
      await expect(withFileLock(lock, async () => 'ran', {waitMs: 200, everyMs: 20})).rejects.toThrow(new RegExp(`held by process ${holder.pid}`))
      expect(await readFile(lock, 'utf8')).toBe(String(holder.pid))
    } finally {
      holder.kill()
      await holder.catch(() => undefined)
    }
  })

  it('removes a lock older than staleMs even if its pid is alive (pid reuse)', async () => {
    const lock = join(dir, 'x.lock')
    await writeFile(lock, String(process.ppid))
    await sleep(60)
    expect(await withFileLock(lock, async () => 'ran', {waitMs: 2000, staleMs: 20})).toBe('ran')
  })

  it('releases the lock when the holder throws', async () => {
    const lock = join(dir, 'x.lock')
    await expect(withFileLock(lock, async () => Promise.reject(new Error('boom')), {waitMs: 1000})).rejects.toThrow('boom')
    await expect(readFile(lock)).rejects.toThrow(/ENOENT/)
  })
})
