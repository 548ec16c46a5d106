import {describe, expect, it} from 'vitest'

import {ImagePrefetch} from '../../../src/apply/image-prefetch.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

describe('image prefetch', () => {
  it('pulls every planned image once, one after another in plan order; a missing one fails only whoever waits for it', async () => {
    const e = new FakeEngine()
    for (const ref of ['r/a:1', 'r/c:1']) e.registry.add(ref)
    let inFlight = 0
    let most = 0
    const pull = e.pullImage.bind(e)
    e.pullImage = async (ref: string) => {
      most = Math.max(most, ++inFlight)
      await new Promise((resolve) => setTimeout(resolve, 5))
      inFlight--
      return pull(ref)
    }
    const p = new ImagePrefetch(e, ['r/a:1', 'r/b:1', 'r/a:1', 'r/c:1'], new RecordingReporter(), 'lab-1')
    await expect(p.pull('r/b:1')).rejects.toThrow(/cannot pull r\/b:1/)
    expect((await p.pull('r/c:1')).tags).toEqual(['r/c:1'])
    await p.settled()
    expect(e.calls).toEqual(['pull r/a:1', 'pull r/b:1', 'pull r/c:1'])
    expect(most).toBe(1)
    // An image that was not planned is pulled when asked for.
    e.registry.add('r/d:1')
    expect((await p.pull('r/d:1')).tags).toEqual(['r/d:1'])
  })

  it('images the engine has are only checked against the registry, at most 4 at once, without waiting for the chain of the missing ones', async () => {
    const e = new FakeEngine()
    const refs = ['r/new1:1', 'r/h1:1', 'r/h2:1', 'r/new2:1', 'r/h3:1', 'r/h4:1', 'r/h5:1', 'r/h6:1']
    for (const ref of refs) e.registry.add(ref)
    const have = new Set(refs.filter((r) => r.startsWith('r/h')))
    const inFlight = new Set<string>()
    let most = 0
    const started: string[] = []
    const pull = e.pullImage.bind(e)
    e.pullImage = async (ref: string) => {
      started.push(ref)
      inFlight.add(ref)
      most = Math.max(most, inFlight.size)
      // A missing image downloads (slow); a present one is a quick registry check.
      await new Promise((resolve) => setTimeout(resolve, have.has(ref) ? 5 : 40))
      // The missing ones still come one after another.
      expect([...inFlight].filter((r) => !have.has(r)).length).toBeLessThanOrEqual(1)
      expect([...inFlight].filter((r) => have.has(r)).length).toBeLessThanOrEqual(4)
      inFlight.delete(ref)
      return pull(ref)
    }
    const p = new ImagePrefetch(e, refs, new RecordingReporter(), 'lab-1', Promise.resolve(have))
    await p.pull('r/h6:1')
    // Every present image was checked while the first missing one was still downloading.
    expect(started.filter((r) => r !== 'r/new1:1' && r !== 'r/new2:1')).toHaveLength(6)
    expect(started).not.toContain('r/new2:1')
    await p.settled()
    expect(started.filter((r) => !have.has(r))).toEqual(['r/new1:1', 'r/new2:1'])
    expect(most).toBeLessThanOrEqual(5)
    expect(most).toBeGreaterThan(2)
  })

  it('a deploy pulls each image once per host, from the start: the keystone image before the first service (mariadb) is created', async () => {
    const site = testSite()
    const services = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
    const lab = fakeLab(site, registryRefs(services, ['zed']))
    await lab.deploy(services)
    for (const [name, e] of lab.engines) {
      const pulls = e.calls.filter((c) => c.startsWith('pull '))
      expect(pulls.length, name).toBe(new Set(pulls).size)
      expect(pulls.length, name).toBeGreaterThan(1)
    }
    const e1 = lab.engines.get('lab-1')!.calls
    const firstCreate = e1.findIndex((c) => /^create mariadb/.test(c))
    expect(firstCreate).toBeGreaterThan(0)
    expect(e1.indexOf('pull 10.0.0.11:4000/osctl/keystone:zed')).toBeGreaterThan(-1)
    expect(e1.indexOf('pull 10.0.0.11:4000/osctl/keystone:zed')).toBeLessThan(firstCreate)
  })
})
