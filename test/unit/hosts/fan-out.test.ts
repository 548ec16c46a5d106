import {setTimeout as sleep} from 'node:timers/promises'
import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {fanOut, summarize} from '../../../src/hosts/fan-out.js'

const hosts = (n: number) => Array.from({length: n}, (_, i) => ({name: `lab-${i + 1}`}))

describe('fanOut', () => {
  it('never runs more than `concurrency` at once, and does use that many', async () => {
    let inFlight = 0
    let max = 0
    await fanOut(hosts(20), 4, async () => {
      inFlight++
      max = Math.max(max, inFlight)
      await sleep(5 + Math.random() * 10)
      inFlight--
    })
    expect(max).toBe(4)
  })

  it('returns results in input order whatever order hosts finish in', async () => {
    const results = await fanOut(hosts(6), 6, async (h) => {
      const i = Number(h.name.split('-')[1])
      await sleep((7 - i) * 5)
      return i * 10
    })
    expect(results.map((r) => [r.host, r.value])).toEqual([
      ['lab-1', 10], ['lab-2', 20], ['lab-3', 30], ['lab-4', 40], ['lab-5', 50], ['lab-6', 60],
    ])
    expect(results.every((r) => r.ok && r.durationMs >= 0)).toBe(true)
  })

  it('one failure does not hide or cancel the others', async () => {
    const ran: string[] = []
    const results = await fanOut(hosts(4), 2, async (h) => {
      if (h.name === 'lab-1') throw new OsctlError('HOST_UNREACHABLE', 'cannot reach lab-1 (10.0.0.2:22): connection refused')
      await sleep(5)
      ran.push(h.name)
      return 'done'
    })
    expect(ran.sort()).toEqual(['lab-2', 'lab-3', 'lab-4'])
    expect(results[0]).toMatchObject({host: 'lab-1', ok: false, error: {code: 'HOST_UNREACHABLE'}})
    expect(results.slice(1).every((r) => r.ok && r.value === 'done')).toBe(true)
  })

  it('wraps non-Osctl errors, naming the host and keeping the cause', async () => {
    const boom = new TypeError('x is undefined')
    const [r] = await fanOut(hosts(1), 1, async () => {
      throw boom
    })
    expect(r.error).toBeInstanceOf(OsctlError)
    expect(r.error?.message).toBe('lab-1: x is undefined')
    expect(r.error?.cause).toBe(boom)
  })

  it('handles no hosts and treats a concurrency below 1 as 1', async () => {
    expect(await fanOut([], 3, async () => 1)).toEqual([])
    expect(await fanOut(hosts(3), 0.5, async () => 1)).toHaveLength(3)
  })
})

describe('summarize', () => {
  const r = (host: string, ok: boolean) => ({host, ok, durationMs: 1})
  it('0 when all ok, 1 when all failed, 3 when partial', () => {
    expect(summarize([r('a', true), r('b', true)])).toEqual({ok: ['a', 'b'], failed: [], exitCode: 0})
    expect(summarize([r('a', false), r('b', false)])).toEqual({ok: [], failed: ['a', 'b'], exitCode: 1})
    expect(summarize([r('a', true), r('b', false)])).toEqual({ok: ['a'], failed: ['b'], exitCode: 3})
    expect(summarize([]).exitCode).toBe(0)
  })
})
