import {describe, expect, it} from 'vitest'

import {ImagePrefetch} from '../../../src/apply/image-prefetch.js'
import {pullRanks} from '../../../src/apply/pull-priority.js'
import {PullQueue, compareRanks} from '../../../src/apply/pull-queue.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {repositoryOf} from '../../../src/site/image-ref.js'
import type {Site} from '../../../src/site/types.js'
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
    // A missing image downloads (slow: until the test lets it finish); a present one is a quick registry check.
    let downloaded!: () => void
    const download = new Promise<void>((resolve) => (downloaded = resolve))
    e.pullImage = async (ref: string) => {
      started.push(ref)
      inFlight.add(ref)
      most = Math.max(most, inFlight.size)
      await (have.has(ref) ? new Promise((resolve) => setTimeout(resolve, 5)) : download)
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
    downloaded()
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

  it('a tag the host has with the manifest digest the registry serves now is used as it is (no pull); one whose digest differs is pulled', async () => {
    const site = testSite()
    const services = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
    const lab = fakeLab(site, registryRefs(services, ['zed']))
    await lab.deploy(services)
    // What the hosts' engines now report for each tag (Docker's RepoDigests), and what the registry says.
    const digests = new Map<string, string>()
    for (const e of lab.engines.values()) {
      for (const [ref, image] of e.images) {
        const digest = `sha256:${Buffer.from(ref).toString('hex').padEnd(64, '0').slice(0, 64)}`
        image.digests = [`${repositoryOf(ref)}@${digest}`]
        digests.set(ref, digest)
      }
      e.calls.length = 0
    }
    const keystone = [...digests.keys()].find((r) => r.includes('/keystone:'))!
    digests.set(keystone, `sha256:${'f'.repeat(64)}`)
    const again = await lab.deploy(services, digests)
    expect(again.hosts.every((h) => h.ok)).toBe(true)
    expect(again.recreated).toBe(0)
    // The tag that moved in the registry is pulled (asked again); every other one is not.
    for (const [name, e] of lab.engines) expect(e.calls.filter((c) => c.startsWith('pull ')), name).toEqual(e.images.has(keystone) ? [`pull ${keystone}`] : [])
  })
})

/** Every engine's pulls in one timeline: the order they started in and the most at once across engines. */
function pullLog(engines: Map<string, FakeEngine>, ms = (ref: string): number => (ref.includes('slow') ? 40 : 5)) {
  const started: string[] = []
  let inFlight = 0
  const onHost = new Map<string, number>()
  const log = {started, most: 0, mostOnOneHost: 0}
  for (const [host, e] of engines) {
    const pull = e.pullImage.bind(e)
    e.pullImage = async (ref: string) => {
      started.push(`${host} ${ref.replace(/^.*\//, '')}`)
      log.most = Math.max(log.most, ++inFlight)
      onHost.set(host, (onHost.get(host) ?? 0) + 1)
      log.mostOnOneHost = Math.max(log.mostOnOneHost, onHost.get(host)!)
      try {
        await new Promise((resolve) => setTimeout(resolve, ms(ref)))
        return await pull(ref)
      } finally {
        inFlight--
        onHost.set(host, onHost.get(host)! - 1)
      }
    }
  }
  return log
}

const deferred = () => {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return {promise, open}
}

describe('the site pull queue (image_pull_concurrency)', () => {
  const engines = (...names: string[]) => {
    const map = new Map(names.map((n) => [n, new FakeEngine()]))
    for (const e of map.values()) for (const i of ['db', 'api', 'compute', 'slow']) e.registry.add(`r/${i}:1`)
    return map
  }
  const ranks: Record<string, number[]> = {'r/db:1': [0], 'r/api:1': [1], 'r/compute:1': [4], 'r/slow:1': [0], 'r/gone:1': [2]}

  it('serves every host from one queue: nothing before every host listed its images, then lowest rank first, at most N at once across hosts and one per host', async () => {
    const es = engines('ctl-1', 'ctl-2', 'cmp-1', 'cmp-2')
    const log = pullLog(es)
    const gate = deferred()
    const queue = new PullQueue(2, gate.promise)
    const plan: Record<string, string[]> = {'ctl-1': ['r/db:1', 'r/api:1'], 'ctl-2': ['r/api:1'], 'cmp-1': ['r/compute:1'], 'cmp-2': ['r/compute:1']}
    // The compute hosts are created (and answer) first; their images are still needed last.
    const hosts = ['cmp-1', 'cmp-2', 'ctl-2', 'ctl-1']
    const prefetch = hosts.map((h) => new ImagePrefetch(es.get(h)!, plan[h], new RecordingReporter(), h, Promise.resolve(new Set<string>()), {queue, rank: (ref) => ranks[ref]}))
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(log.started).toEqual([])
    expect(queue.queued).toBe(5)
    gate.open()
    await Promise.all(prefetch.map((p) => p.settled()))
    // ctl-1's r/api:1 (rank 1) waits for its r/db:1, not for ctl-2's.
    expect(log.started).toEqual(['ctl-1 db:1', 'ctl-2 api:1', 'ctl-1 api:1', 'cmp-1 compute:1', 'cmp-2 compute:1'])
    expect(log.most).toBe(2)
    expect(log.mostOnOneHost).toBe(1)
  })

  it('a pull someone waits for goes to the front of the queue; images a host has are only checked, beside the queue', async () => {
    const es = engines('ctl-1', 'cmp-1')
    const log = pullLog(es)
    const queue = new PullQueue(1)
    const reporter = new RecordingReporter()
    const ctl = new ImagePrefetch(es.get('ctl-1')!, ['r/slow:1', 'r/db:1', 'r/api:1'], reporter, 'ctl-1', Promise.resolve(new Set<string>()), {queue, rank: (ref) => ranks[ref]})
    const cmp = new ImagePrefetch(es.get('cmp-1')!, ['r/compute:1', 'r/db:1'], reporter, 'cmp-1', Promise.resolve(new Set(['r/db:1'])), {queue, rank: (ref) => ranks[ref]})
    await new Promise((resolve) => setTimeout(resolve, 1))
    // r/slow:1 runs; the compute host's service reaches its turn: its image comes next, before rank 0 and 1.
    expect([...log.started].sort()).toEqual(['cmp-1 db:1', 'ctl-1 slow:1'])
    expect((await cmp.pull('r/compute:1')).tags).toEqual(['r/compute:1'])
    await Promise.all([ctl.settled(), cmp.settled()])
    expect(log.started.filter((s) => s !== 'cmp-1 db:1')).toEqual(['ctl-1 slow:1', 'cmp-1 compute:1', 'ctl-1 db:1', 'ctl-1 api:1'])
    // Each download says how long it waited for a slot; the check of a present tag is not one.
    const pulled = reporter.events.filter((e) => e.code === 'image.pulled').map((e) => `${e.host} ${(e.data as {ref: string}).ref}`)
    expect(pulled).toEqual(['ctl-1 r/slow:1', 'cmp-1 r/compute:1', 'ctl-1 r/db:1', 'ctl-1 r/api:1'])
    const waited = reporter.events.find((e) => e.code === 'image.pulled' && e.host === 'cmp-1')!.data as {queuedSeconds: number}
    expect(waited.queuedSeconds).toBeGreaterThan(0.02)
  })

  it('a service asking before its host listed its images still gets its pull moved to the front', async () => {
    const es = engines('ctl-1', 'cmp-1')
    const log = pullLog(es)
    const gate = deferred()
    const queue = new PullQueue(1, gate.promise)
    const images = deferred()
    const ctl = new ImagePrefetch(es.get('ctl-1')!, ['r/db:1', 'r/api:1'], new RecordingReporter(), 'ctl-1', Promise.resolve(new Set<string>()), {queue, rank: (ref) => ranks[ref]})
    const cmp = new ImagePrefetch(es.get('cmp-1')!, ['r/compute:1'], new RecordingReporter(), 'cmp-1', images.promise.then(() => new Set<string>()), {queue, rank: (ref) => ranks[ref]})
    // As deploy does: the queue opens once every host queued what it lacks.
    void Promise.all([ctl.listed, cmp.listed]).then(gate.open)
    const waiting = cmp.pull('r/compute:1')
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(log.started).toEqual([])
    images.open()
    await waiting
    await Promise.all([ctl.settled(), cmp.settled()])
    expect(log.started).toEqual(['cmp-1 compute:1', 'ctl-1 db:1', 'ctl-1 api:1'])
  })

  it('a failed pull fails only whoever needs that image and frees its slot; a failed host’s queued pulls are dropped unless asked for', async () => {
    const es = engines('ctl-1', 'cmp-1')
    const log = pullLog(es)
    const queue = new PullQueue(1)
    const ctl = new ImagePrefetch(es.get('ctl-1')!, ['r/slow:1', 'r/gone:1', 'r/api:1'], new RecordingReporter(), 'ctl-1', Promise.resolve(new Set<string>()), {queue, rank: (ref) => ranks[ref]})
    const cmp = new ImagePrefetch(es.get('cmp-1')!, ['r/compute:1', 'r/db:1', 'r/api:1'], new RecordingReporter(), 'cmp-1', Promise.resolve(new Set<string>()), {queue, rank: (ref) => ranks[ref]})
    await new Promise((resolve) => setTimeout(resolve, 1))
    expect(log.started).toEqual(['ctl-1 slow:1'])
    // cmp-1 failed elsewhere while its service on it still waits for r/db:1: r/api:1 and r/compute:1 are dropped.
    const db = cmp.pull('r/db:1')
    expect(cmp.cancel(new Error('cmp-1 is out'))).toBe(2)
    await expect(cmp.pull('r/api:1')).resolves.toMatchObject({tags: ['r/api:1']})
    await expect(db).resolves.toMatchObject({tags: ['r/db:1']})
    await expect(ctl.pull('r/gone:1')).rejects.toThrow(/cannot pull r\/gone:1/)
    expect((await ctl.pull('r/api:1')).tags).toEqual(['r/api:1'])
    await Promise.all([ctl.settled(), cmp.settled()])
    // The dropped r/compute:1 was never pulled; r/api:1 was asked for after the drop and was queued again.
    expect(log.started.filter((s) => s.startsWith('cmp-1'))).toEqual(['cmp-1 db:1', 'cmp-1 api:1'])
    expect(log.started.filter((s) => s.startsWith('ctl-1'))).toEqual(['ctl-1 slow:1', 'ctl-1 api:1', 'ctl-1 gone:1'])
    // A job that throws at once is a failed pull too, and the queue goes on.
    const q = new PullQueue(1)
    const bad = q.add([0], () => {
      throw new Error('boom')
    })
    await expect(bad.promise).rejects.toThrow('boom')
    await expect(q.add([0], async () => 'next').promise).resolves.toBe('next')
    expect(() => new PullQueue(0)).toThrow(RangeError)
  })
})

describe('pull ranks from the deploy plan', () => {
  const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute']
  const IMAGES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute']
  /** lab-1 and lab-2 control (lab-2 also compute), lab-3 and lab-4 compute only. */
  const bigSite = (config: Partial<Site['config']> = {}) => {
    const site = testSite({enabledServices: SERVICES, novaComputeDriver: 'fake', ...config})
    for (const name of ['lab-3', 'lab-4']) site.hosts.push({name, address: `10.0.0.${name.slice(-1) === '3' ? 13 : 14}`, ssh: {user: 'root', port: 22}, groups: ['compute']})
    site.groups.compute = ['lab-2', 'lab-3', 'lab-4']
    return site
  }

  it('ranks by the order deploy would start the services in (after what each starts after, the most work ahead first), the first host of a service with once steps before its others', async () => {
    const site = bigSite()
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {targets: site.hosts})
    const r = pullRanks(plan)
    const place = (host: string, image: string) => r.get(host)!.get(`10.0.0.11:4000/osctl/${image}:zed`)![0]
    // mariadb first (everything waits for it); keystone next: its migrations need only mariadb and
    // every API registers in it; then memcached (keystone's container needs it), rabbitmq, the
    // APIs (placement, as much work ahead as nova, first in plan order; glance, which nothing
    // waits for, last), then the computes.
    const images = ['mariadb', 'keystone', 'memcached', 'rabbitmq', 'placement-api', 'nova-api', 'glance-api']
    expect(images.map((i) => place('lab-1', i))).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect([place('lab-2', 'nova-compute'), place('lab-3', 'nova-compute')]).toEqual([7, 7])
    // keystone's migrations run on lab-1 before lab-2 starts.
    expect(compareRanks(r.get('lab-1')!.get('10.0.0.11:4000/osctl/keystone:zed')!, r.get('lab-2')!.get('10.0.0.11:4000/osctl/keystone:zed')!)).toBeLessThan(0)
    expect([...r.get('lab-3')!.keys()]).toEqual(['10.0.0.11:4000/osctl/nova-compute:zed'])
  })

  it('a deploy pulls through one queue for all hosts: never more than image_pull_concurrency at once, control-plane images before compute images', async () => {
    const site = bigSite({imagePullConcurrency: 2})
    const lab = fakeLab(site, registryRefs(IMAGES, ['zed']))
    const log = pullLog(lab.engines, () => 3)
    const result = await lab.deploy(SERVICES)
    expect(result.hosts.every((h) => h.ok), JSON.stringify(result.hosts)).toBe(true)
    expect(log.most).toBe(2)
    expect(log.mostOnOneHost).toBe(1)
    const at = (entry: string) => log.started.indexOf(entry)
    // A host's pulls come one at a time, in the order of the ranks; a slot no control host can use
    // (each busy with its own) goes to a compute host, not left idle.
    const order = (host: string) => log.started.filter((x) => x.startsWith(`${host} `)).map((x) => x.split(' ')[1].replace(':zed', ''))
    expect(order('lab-1')).toEqual(['mariadb', 'keystone', 'memcached', 'rabbitmq', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'glance-api'])
    expect(order('lab-2')).toEqual(['keystone', 'memcached', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'glance-api', 'nova-compute'])
    expect(order('lab-3')).toEqual(['nova-compute'])
    expect(log.started.slice(0, 2).sort()).toEqual(['lab-1 mariadb:zed', 'lab-2 keystone:zed'])
    expect(at('lab-3 nova-compute:zed')).toBeGreaterThan(at('lab-2 keystone:zed'))
    // The second deploy finds every image present: only checks, a few at once per host, none held to the queue.
    log.started.length = 0
    log.most = 0
    await lab.deploy(SERVICES)
    expect(log.started.length).toBeGreaterThan(0)
    expect(log.most).toBeGreaterThan(2)
  })
})
