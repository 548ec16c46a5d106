import {describe, expect, it} from 'vitest'

import {warmUp} from '../../../src/apply/container-swap.js'
import {unixSeconds} from '../../../src/docker/docker-client.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

describe('overlap warm-up', () => {
  it('a container that ran before (the kept previous one, reused for an undo) is ready only when this run says so, not by its earlier run\'s ready line', async () => {
    const lab = fakeLab(testSite(), registryRefs(['keystone'], ['zed']))
    const e = lab.engines.get('lab-1')!
    const h = lab.hosts.get('lab-1')!
    const image = '10.0.0.11:4000/osctl/keystone:zed'
    await e.pullImage(image)
    await e.createContainer({name: 'keystone.next', image, labels: {}})
    await e.startContainer('keystone.next')
    await e.stopContainer('keystone.next')
    const ended = (await e.inspectContainer('keystone.next'))!.finishedAt!
    // Its log as the engine keeps it: the earlier run's lines, ready line included, then this run's.
    const said = [{at: Date.parse(ended) - 5000, text: 'WSGI app 0 ready\n'}]
    const asked: Array<string | undefined> = []
    e.containerLogs = async (_name: string, _tail?: number, since?: string) => {
      asked.push(since)
      return said.filter((l) => since === undefined || l.at >= Date.parse(since)).map((l) => l.text).join('')
    }
    const started = performance.now()
    setTimeout(() => said.push({at: Date.now(), text: 'WSGI app 0 ready\n'}), 600)
    await warmUp(h, e, 'keystone', 'WSGI app 0 ready', 10)
    expect(performance.now() - started).toBeGreaterThanOrEqual(550)
    expect(asked.every((s) => s === ended)).toBe(true)
    expect((await e.inspectContainer('keystone.next'))?.state).toBe('running')
  })

  it('a container never run before: its whole log counts', async () => {
    const lab = fakeLab(testSite(), registryRefs(['keystone'], ['zed']))
    const e = lab.engines.get('lab-1')!
    const image = '10.0.0.11:4000/osctl/keystone:zed'
    await e.pullImage(image)
    await e.createContainer({name: 'keystone.next', image, labels: {}})
    e.output.set('keystone.next', 'loading\nWSGI app 0 ready\n')
    const asked: Array<string | undefined> = []
    const logs = e.containerLogs.bind(e)
    e.containerLogs = async (name: string, tail?: number, since?: string) => {
      asked.push(since)
      return logs(name, tail, since)
    }
    await warmUp(lab.hosts.get('lab-1')!, e, 'keystone', 'WSGI app 0 ready', 10)
    expect(asked).toEqual([undefined])
  })
})

describe('unixSeconds (the engine\'s `since`)', () => {
  it('keeps Docker\'s nanoseconds and takes offsets and missing fractions', () => {
    expect(unixSeconds('2026-12-07T18:35:29.135139974Z')).toBe('1796668529.135139974')
    expect(unixSeconds('2026-12-07T18:35:29.1Z')).toBe('1796668529.100000000')
    expect(unixSeconds('2026-12-07T18:35:29Z')).toBe('1796668529.000000000')
    expect(unixSeconds('2026-12-07T19:35:29.5+01:00')).toBe('1796668529.500000000')
    expect(() => unixSeconds('yesterday')).toThrow(/RFC 3339/)
  })
})
