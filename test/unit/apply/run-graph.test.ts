import {setTimeout as sleep} from 'node:timers/promises'
import {describe, expect, it} from 'vitest'

import {GraphRun, runGraph} from '../../../src/apply/run-graph.js'

type Item = {name: string; depends: string[]; ms: number; fail?: boolean}
const item = (name: string, depends: string[] = [], ms = 10, fail = false): Item => ({name, depends, ms, fail})

async function trace(items: Item[], limit: number) {
  const log: string[] = []
  let active = 0
  let most = 0
  const error = await runGraph(items, (i) => i.name, (i) => i.depends, limit, async (i) => {
    most = Math.max(most, ++active)
    log.push(`start ${i.name}`)
    await sleep(i.ms)
    active--
    log.push(`end ${i.name}`)
    if (i.fail) throw new Error(`${i.name} broke`)
  }).catch((e: Error) => e)
  return {log, most, error}
}

describe('runGraph: services on their dependency graph', () => {
  it('starts independent items together and each after all it depends on', async () => {
    const {log, most, error} = await trace([item('mariadb', [], 30), item('memcached', [], 10), item('rabbitmq', [], 20), item('keystone', ['mariadb', 'memcached']), item('glance', ['keystone'], 20), item('placement', ['keystone'], 20), item('nova', ['rabbitmq', 'glance', 'placement'])], 3)
    expect(error).toBeUndefined()
    expect(log.slice(0, 3)).toEqual(['start mariadb', 'start memcached', 'start rabbitmq'])
    expect(log.indexOf('start keystone')).toBeGreaterThan(log.indexOf('end mariadb'))
    // glance and placement run side by side; nova waits for both.
    expect(log.indexOf('start placement')).toBeLessThan(log.indexOf('end glance'))
    expect(log.indexOf('start nova')).toBeGreaterThan(Math.max(log.indexOf('end glance'), log.indexOf('end placement')))
    expect(most).toBe(3)
  })

  it('never runs more than the limit at once', async () => {
    const {most, log} = await trace(['a', 'b', 'c', 'd', 'e'].map((n) => item(n, [], 15)), 2)
    expect(most).toBe(2)
    expect(log.filter((l) => l.startsWith('end'))).toHaveLength(5)
  })

  it('light items (only checked) take no slot: they run beside a full limit', async () => {
    const log: string[] = []
    let active = 0
    let most = 0
    const items = [item('a', [], 30), item('b', [], 30), item('c'), item('d')]
    await runGraph(items, (i) => i.name, (i) => i.depends, 2, async (i) => {
      most = Math.max(most, ++active)
      log.push(`start ${i.name}`)
      await sleep(i.ms)
      active--
    }, {light: (i) => i.name === 'c' || i.name === 'd'})
    expect(most).toBe(4)
    expect(log.sort()).toEqual(['start a', 'start b', 'start c', 'start d'])
  })

  it('a failure skips what depends on it, lets the rest end, then rejects with it', async () => {
    const {log, error} = await trace([item('a', [], 5, true), item('b', [], 40), item('c', ['a']), item('d', ['b'])], 3)
    expect((error as Error).message).toBe('a broke')
    expect(log).not.toContain('start c')
    // b and what depends on it still ran to their end before runGraph returned.
    expect(log.slice(-2)).toEqual(['start d', 'end d'])
  })

  it('an item may start on part of what it needs and wait for the rest, its slot given back meanwhile', async () => {
    // glance, placement and nova need mariadb to start (their db syncs) and keystone to go on.
    const log: string[] = []
    let active = 0
    let most = 0
    const items = [item('mariadb', [], 10), item('keystone', ['mariadb'], 60), item('glance', ['mariadb']), item('placement', ['mariadb']), item('nova', ['mariadb'])]
    await runGraph(items, (i) => i.name, (i) => i.depends, 2, async (i, g) => {
      most = Math.max(most, ++active)
      log.push(`start ${i.name}`)
      await sleep(i.ms)
      if (i.name !== 'mariadb' && i.name !== 'keystone') {
        log.push(`wait ${i.name}`)
        active--
        // Two hosts of the service wait at once: one slot back, taken again once.
        await Promise.all([g.after(['keystone', 'unknown']), g.after(['keystone'])])
        most = Math.max(most, ++active)
        log.push(`on ${i.name}`)
        await sleep(5)
      }
      active--
      log.push(`end ${i.name}`)
    })
    // With two slots, keystone and three waiting services all started before keystone ended.
    for (const n of ['glance', 'placement', 'nova']) {
      expect(log.indexOf(`start ${n}`)).toBeLessThan(log.indexOf('end keystone'))
      expect(log.indexOf(`on ${n}`)).toBeGreaterThan(log.indexOf('end keystone'))
    }
    expect(most).toBe(2)
  })

  it('a free slot goes to the ready item of highest priority, not the first ready', async () => {
    // Limit 1, all ready at once: d has the most work ahead, then c, b, a.
    const log: string[] = []
    const priority: Record<string, number> = {a: 0, b: 5, c: 20, d: 45}
    await runGraph([item('a', [], 20), item('b'), item('c'), item('d')], (i) => i.name, () => [], 1, async (i) => {
      log.push(i.name)
      await sleep(i.ms)
    }, {priority: (i) => priority[i.name]})
    expect(log).toEqual(['d', 'c', 'b', 'a'])
    // Items that become ready together (a's dependents, when it ends) go by priority too, even
    // with slots free: not in the order they come.
    log.length = 0
    await runGraph([item('a', [], 5), item('b', ['a']), item('c', ['a']), item('d', ['a']), item('e', [], 30)], (i) => i.name, (i) => i.depends, 2, async (i) => {
      log.push(i.name)
      await sleep(i.ms)
    }, {priority: (i) => priority[i.name] ?? 0})
    expect(log.slice(0, 4)).toEqual(['a', 'e', 'd', 'c'])
  })

  it('an item waits for what `before` says (its images) without a slot: others run meanwhile', async () => {
    const log: string[] = []
    // Limit 1: a has the higher priority but its image comes late; b runs in the meantime.
    await runGraph([item('a'), item('b', [], 20)], (i) => i.name, () => [], 1, async (i) => {
      log.push(`start ${i.name}`)
      await sleep(i.ms)
      log.push(`end ${i.name}`)
    }, {priority: (i) => (i.name === 'a' ? 10 : 0), before: async (i) => {
      if (i.name === 'a') await sleep(10)
    }})
    expect(log).toEqual(['start b', 'end b', 'start a', 'end a'])
    // A `before` that fails: the item does not run, takes no slot, and what depends on it fails.
    log.length = 0
    const error = await runGraph([item('a'), item('b', ['a']), item('c', [], 5)], (i) => i.name, (i) => i.depends, 1, async (i) => {
      log.push(`start ${i.name}`)
      await sleep(i.ms)
    }, {before: async (i) => {
      if (i.name === 'a') throw new Error('no image for a')
    }}).catch((e: Error) => e.message)
    expect(error).toBe('no image for a')
    expect(log).toEqual(['start c'])
  })

  it("a wait for an item that failed rejects with its failure", async () => {
    const items = [item('a', [], 5, true), item('b')]
    let seen: unknown
    const error = await runGraph(items, (i) => i.name, (i) => i.depends, 2, async (i, g) => {
      if (i.fail) throw new Error('a broke')
      seen = await g.after(['a']).catch((e: Error) => e.message)
    }).catch((e: Error) => e)
    expect(seen).toBe('a broke')
    expect((error as Error).message).toBe('a broke')
  })

  it('a wait for items that already ended keeps the slot; a resuming item gets a slot before items that have not started', async () => {
    const log: string[] = []
    const body = async (i: Item, g: GraphRun) => {
      log.push(`start ${i.name}`)
      if (i.depends.length === 0 && i.name.startsWith('n')) {
        await g.after(['k'])
        log.push(`on ${i.name}`)
      }
      await sleep(i.ms)
      log.push(`end ${i.name}`)
    }
    // Limit 1: b and c start after a; b waits for a again, which ended: it runs on without letting c in.
    const one = [item('a', [], 20), item('b', ['a'], 10), item('c', ['a'], 5)]
    await runGraph(one, (i) => i.name, (i) => i.depends, 1, async (i, g) => {
      log.push(`start ${i.name}`)
      if (i.name === 'b') await g.after(['a'])
      await sleep(i.ms)
      log.push(`end ${i.name}`)
    })
    expect(log.indexOf('start c')).toBeGreaterThan(log.indexOf('end b'))
    // Limit 2: n waits for k (x takes its slot); when k ends, n, resuming, gets k's slot ahead of
    // c1 and c2, which queued before it resumed.
    log.length = 0
    await runGraph([item('k', [], 50), item('n', [], 5), item('x', [], 80), item('c1', [], 10), item('c2', [], 10)], (i) => i.name, () => [], 2, body)
    expect(log.indexOf('start x')).toBeLessThan(log.indexOf('end k'))
    expect(log.indexOf('on n')).toBeLessThan(log.indexOf('start c1'))
  })

  it('idle gives the slot back while the item waits for a part of itself that waits (a step beside the others)', async () => {
    const log: string[] = []
    // Limit 1. s has a part beside its work that waits for k (a registration waiting for keystone).
    const items = [item('s', [], 20), item('k', [], 40), item('o', [], 5)]
    await runGraph(items, (i) => i.name, () => [], 1, async (i, g) => {
      log.push(`start ${i.name}`)
      if (i.name !== 's') {
        await sleep(i.ms)
        log.push(`end ${i.name}`)
        return
      }
      const part = g.after(['k']).then(() => log.push('part s'))
      await sleep(i.ms)
      log.push('work s')
      await g.idle(part)
      log.push('end s')
    })
    // s started first (plan order); its part's wait gave the slot to k; resuming, s went before o.
    expect(log[0]).toBe('start s')
    expect(log.indexOf('end k')).toBeLessThan(log.indexOf('part s'))
    expect(log.slice(log.indexOf('part s'))).toEqual(['part s', 'end s', 'start o', 'end o'])
  })
})
