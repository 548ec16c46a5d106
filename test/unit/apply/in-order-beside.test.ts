import {describe, expect, it} from 'vitest'

import {inOrderBeside} from '../../../src/apply/in-order-beside.js'

const tick = () => new Promise((resolve) => setTimeout(resolve, 1))

describe('inOrderBeside: swaps one at a time, checks beside them', () => {
  it('runs the ordered ones one after another and the others at once, results in order', async () => {
    const log: string[] = []
    const r = await inOrderBeside(['a', 'b'], ['x', 'y'], async (v) => {
      log.push(`start ${v}`)
      await tick()
      log.push(`end ${v}`)
      return v.toUpperCase()
    })
    expect(r).toEqual(['A', 'B', 'X', 'Y'])
    expect(log.indexOf('start b')).toBeGreaterThan(log.indexOf('end a'))
    expect(log.indexOf('start y')).toBeLessThan(log.indexOf('end x'))
  })

  it('a failure beside the sequence is thrown only once the sequence ended; a failure in it stops the rest', async () => {
    const ran: string[] = []
    const err = await inOrderBeside(['a', 'bad', 'c'], ['x'], async (v) => {
      if (v === 'x') throw new Error('x unhealthy')
      await tick()
      if (v === 'bad') throw new Error('bad swap')
      ran.push(v)
      return v
    }).catch((e: Error) => e)
    expect((err as Error).message).toBe('bad swap')
    expect(ran).toEqual(['a'])
  })
})
