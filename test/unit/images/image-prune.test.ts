import {HostSession} from '../../../src/session/host-session.js'
import {beforeEach, describe, expect, it} from 'vitest'

import {EngineImage, HostPrune, KEEP_REVISIONS, ServiceRevisions, keepSet, planPrune, pruneImages, siteImagePrefix} from '../../../src/images/image-prune.js'
import {Ledger, RevisionContainer, RevisionRecord, revisionDir} from '../../../src/revisions/ledger.js'
import {RevisionRestorer} from '../../../src/lifecycle/revision-restore.js'
import type {Site} from '../../../src/site/types.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {labHost} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const PREFIX = '10.0.0.11:4000/osctl/'
const id = (n: string) => `sha256:${n.padEnd(64, '0')}`
/** A service whose revision n ran the image id(`<service>-<n>`). */
const ledger = (service: string, revisions: number[], current?: number): ServiceRevisions => ({
  service,
  current,
  revisions: revisions.map((revision) => ({revision, containers: [{name: service, image: `${PREFIX}${service}:${revision}`, imageId: id(`${service}-${revision}`)} as never]})),
})
const image = (key: string, refs: string[], digests: string[] = []): EngineImage => ({id: id(key), tags: refs, digests, size: 1000, unique: 1000})

describe('image prune: keep set', () => {
  it('keeps the K newest revisions by number, whatever order the ledger lists them in', () => {
    const keep = keepSet([ledger('memcached', [2, 5, 1, 4, 3], 5)], [], 3)
    expect([...keep.keys()].sort()).toEqual([id('memcached-3'), id('memcached-4'), id('memcached-5')].sort())
    expect(keep.get(id('memcached-5'))).toEqual([{kind: 'revision', service: 'memcached', revision: 5, current: true}])
    expect(keep.get(id('memcached-4'))).toEqual([{kind: 'revision', service: 'memcached', revision: 4, current: false}])
    expect(KEEP_REVISIONS).toBe(3)
  })

  it('keeps the current revision even when it is older than the last K (after a rollback)', () => {
    const keep = keepSet([ledger('keystone', [1, 2, 3, 4, 5, 6], 2)], [], 3)
    expect([...keep.keys()].sort()).toEqual(['keystone-2', 'keystone-4', 'keystone-5', 'keystone-6'].map(id).sort())
    expect(keep.get(id('keystone-2'))).toEqual([{kind: 'revision', service: 'keystone', revision: 2, current: true}])
  })

  it('keeps the image of every existing container, running or not, and counts services separately', () => {
    const containers = [
      {name: 'old-debug', imageId: id('memcached-1'), state: 'exited'},
      {name: 'keystone', imageId: id('keystone-1'), state: 'running'},
    ]
    const keep = keepSet([ledger('memcached', [1, 2, 3], 3), ledger('keystone', [1], 1)], containers, 2)
    expect(keep.get(id('memcached-1'))).toEqual([{kind: 'container', container: 'old-debug', state: 'exited'}])
    expect(keep.get(id('keystone-1'))).toEqual([
      {kind: 'revision', service: 'keystone', revision: 1, current: true},
      {kind: 'container', container: 'keystone', state: 'running'},
    ])
    expect(keep.has(id('memcached-2'))).toBe(true)
  })

  it('never makes a candidate of an image outside the site namespace, and keeps osctl images that carry a foreign tag', () => {
    const keep = keepSet([ledger('memcached', [1, 2, 3, 4], 4)], [], 2)
    const plan = planPrune(
      [
        image('memcached-1', [`${PREFIX}memcached:1`]),
        image('memcached-2', [`${PREFIX}memcached:2`]),
        image('memcached-3', [`${PREFIX}memcached:3`]),
        image('memcached-4', [`${PREFIX}memcached:4`]),
        // Same id listed twice (two tags): one image, merged.
        image('memcached-4', [`${PREFIX}memcached:latest`]),
        // The tag moved on: only its digest says it is osctl's.
        image('dangling', [], [`${PREFIX}memcached@sha256:${'d'.repeat(64)}`]),
        image('debian', ['debian:12']),
        image('other-registry', ['10.0.0.99:4000/osctl/memcached:1']),
        image('other-namespace', ['10.0.0.11:4000/someone/memcached:1']),
        image('untagged', []),
        image('shared', [`${PREFIX}memcached:old`, 'foreign/thing:1']),
      ],
      keep,
      PREFIX,
    )
    expect(plan.remove.map((i) => i.id).sort()).toEqual(['memcached-1', 'memcached-2', 'dangling'].map(id).sort())
    expect(plan.kept.map((i) => i.id).sort()).toEqual(['memcached-3', 'memcached-4', 'shared'].map(id).sort())
    expect(plan.kept.find((i) => i.id === id('memcached-4'))!.tags).toEqual([`${PREFIX}memcached:4`, `${PREFIX}memcached:latest`])
    expect(plan.kept.find((i) => i.id === id('shared'))!.reasons).toEqual([{kind: 'foreign-tag', ref: 'foreign/thing:1'}])
    expect(plan.foreign).toBe(4)
  })

  it('takes the prefix from the site registry and namespace, as imageRefFor does', () => {
    expect(siteImagePrefix(testSite())).toBe(PREFIX)
    expect(siteImagePrefix(testSite({registry: 'reg:5000', namespace: 'ops'}))).toBe('reg:5000/ops/')
  })
})

describe('image prune on a host (fake engine, ledger on a fake host)', () => {
  let site: Site
  let host: FakeHost
  let engine: FakeEngine
  let session: HostSession
  const ref = (tag: number | string) => `${PREFIX}memcached:${tag}`

  /**
   * The ledger an upgrade chain leaves: memcached revisions 1..n, revision r running tag r (its
   * own image), revision `current` in force with its container running.
   */
  const seedRevisions = async (n: number, current = n) => {
    const ledger = new Ledger(host)
    for (let r = 1; r <= n; r++) {
      const pulled = engine.addImage(ref(r), {'io.osctl.managed': 'true'})
      const record: RevisionRecord = {
        format: 1, service: 'memcached', host: 'lab-1', revision: r, previous: r > 1 ? r - 1 : undefined, createdAt: new Date().toISOString(), createdBy: 'test@lab', outcome: 'active',
        containers: [{name: 'memcached', image: ref(r), imageId: pulled.id, spec: {} as RevisionContainer['spec'], hash: `h${r}`, unitName: 'osctl-svc-memcached.service', changed: r === 1 ? ['new'] : ['image']}],
      }
      await ledger.write(record, {memcached: {'memcached.json': '{}'}}, {'osctl-svc-memcached.service': '[Service]\n'})
    }
    await ledger.setCurrent('memcached', current)
    await engine.createContainer({name: 'memcached', image: ref(current), labels: {'io.osctl.managed': 'true', 'io.osctl.service': 'memcached', 'io.osctl.revision': String(current)}})
    await engine.startContainer('memcached')
  }
  const imageOf = async (revision: number) => (await new Ledger(host).read('memcached', revision))!.containers[0].imageId
  const present = async (revision: number) => (await engine.inspectImage(await imageOf(revision))) !== undefined
  const prune = async (keep: number, dryRun = false) => {
    const result = await pruneImages({site, targets: site.hosts, session}, {keep, dryRun})
    expect(result.hosts).toHaveLength(1)
    return {result, host: result.hosts[0] as HostPrune}
  }

  beforeEach(() => {
    site = testSite({}, undefined, 1)
    engine = new FakeEngine()
    host = labHost('lab-1', '10.0.0.11', engine)
    session = new HostSession({host: () => host, docker: () => engine})
  })

  it('removes the images of revisions beyond K, keeps the rest, never touches foreign images, and rollback then refuses clearly', async () => {
    await seedRevisions(5)
    engine.addImage('debian:12', {})
    engine.addImage('foreign/thing:1', {'io.osctl.managed': 'true'})
    // An osctl image no ledger names (e.g. a service since removed): a candidate too.
    const orphan = engine.addImage(`${PREFIX}keystone:zed`, {})
    const ids = await Promise.all([1, 2, 3, 4, 5].map(imageOf))
    expect(new Set(ids).size).toBe(5)

    const {result, host: h} = await prune(2)
    expect(h.removed.map((i) => i.id).sort()).toEqual([ids[0], ids[1], ids[2], orphan.id].sort())
    expect(h.removed.map((i) => i.tags[0]).sort()).toEqual([`${PREFIX}keystone:zed`, ref(1), ref(2), ref(3)].sort())
    expect([await present(1), await present(2), await present(3), await present(4), await present(5)]).toEqual([false, false, false, true, true])
    expect(await engine.inspectImage('debian:12')).toBeDefined()
    expect(await engine.inspectImage('foreign/thing:1')).toBeDefined()
    expect(h.foreign).toBe(2)
    expect(h.kept.find((i) => i.id === ids[4])!.reasons).toEqual([
      {kind: 'revision', service: 'memcached', revision: 5, current: true},
      {kind: 'container', container: 'memcached', state: 'running'},
    ])
    expect(h.kept.find((i) => i.id === ids[3])!.reasons).toEqual([{kind: 'revision', service: 'memcached', revision: 4, current: false}])
    expect(h.freedBytes).toBe(4 * 1_000_000)
    expect(result.freedBytes).toBe(4 * 1_000_000)
    expect(h.skipped).toEqual([])
    expect(h.failed).toEqual([])
    // Removed by id, never forced.
    expect(engine.calls.filter((c) => c.startsWith('remove ')).sort()).toEqual(h.removed.map((i) => `remove ${i.id}`).sort())

    await expect(new RevisionRestorer(host, engine).target('memcached', 2)).rejects.toMatchObject({code: 'USAGE', message: expect.stringContaining('is no longer on the host')})
    await expect(new RevisionRestorer(host, engine).target('memcached', 4)).resolves.toMatchObject({target: {revision: 4}})
  })

  it('keeps the current revision when it is older than K (after a rollback), and the image its container runs', async () => {
    await seedRevisions(5, 1)
    expect(await new Ledger(host).currentNumber('memcached')).toBe(1)

    const {host: h} = await prune(2)
    expect([await present(1), await present(2), await present(3), await present(4), await present(5)]).toEqual([true, false, false, true, true])
    expect(h.kept.find((i) => i.id === (engine.containers.get('memcached')!.imageId))!.reasons).toEqual([
      {kind: 'revision', service: 'memcached', revision: 1, current: true},
      {kind: 'container', container: 'memcached', state: 'running'},
    ])
  })

  it('keeps an image a leftover container uses, even one no kept revision names', async () => {
    await seedRevisions(4)
    await engine.createContainer({name: 'memcached-debug', image: await imageOf(1)})
    const {host: h} = await prune(1)
    expect([await present(1), await present(2), await present(3), await present(4)]).toEqual([true, false, false, true])
    const first = await imageOf(1)
    expect(h.kept.find((i) => i.id === first)?.reasons).toEqual([{kind: 'container', container: 'memcached-debug', state: 'created'}])
  })

  it('--dry-run lists what would go and removes nothing', async () => {
    await seedRevisions(4)
    const before = [...engine.images.keys()].sort()
    const {result, host: h} = await prune(2, true)
    expect(result.dryRun).toBe(true)
    expect(h.removed.map((i) => i.tags[0]).sort()).toEqual([ref(1), ref(2)])
    expect(h.freedBytes).toBe(2 * 1_000_000)
    expect([...engine.images.keys()].sort()).toEqual(before)
    expect(engine.calls.filter((c) => c.startsWith('remove '))).toEqual([])
    // The same run for real removes exactly what the dry run listed.
    const real = await prune(2)
    expect(real.host.removed.map((i) => i.id)).toEqual(h.removed.map((i) => i.id))
  })

  it('reports an image Docker refuses to remove as skipped, not failed, and goes on', async () => {
    await seedRevisions(4)
    engine.refuseRemove.set(await imageOf(1), 'conflict: unable to delete 0123 (cannot be forced) - image is being used by running container abc')
    const {host: h} = await prune(2)
    expect(h.skipped.map((i) => [i.id, i.reason])).toEqual([[await imageOf(1), expect.stringContaining('being used by running container')]])
    expect(h.failed).toEqual([])
    expect(h.removed.map((i) => i.id)).toEqual([await imageOf(2)])
    expect(h.freedBytes).toBe(1_000_000)
  })

  it('leaves a host untouched when one of its ledgers cannot be read', async () => {
    await seedRevisions(4)
    await host.writeFileAtomic(`${revisionDir('memcached', 4)}/record.json`, '{not json')
    const result = await pruneImages({site, targets: site.hosts, session}, {keep: 1, dryRun: false})
    expect(result.hosts[0]).toMatchObject({host: 'lab-1', error: expect.stringContaining('JSON')})
    expect([await present(1), await present(2), await present(3)]).toEqual([true, true, true])
    expect(engine.calls.filter((c) => c.startsWith('remove '))).toEqual([])
  })
})
