import {posix} from 'node:path'
import {describe, expect, it, onTestFinished} from 'vitest'

import {stepContainerName} from '../../../src/apply/bootstrap-steps.js'
import {criticalPath} from '../../../src/apply/critical-path.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {requestInterrupt, resetInterrupt} from '../../../src/cli/interrupt.js'
import {JOURNAL_ROOT} from '../../../src/revisions/journal.js'
import {revisionDir} from '../../../src/revisions/ledger.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {labKeystone} from '../../fakes/fake-keystone.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute']
const IMAGES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute']

// How long the one-shot steps run in the fake engine (ms): keystone's bootstrap, then the
// registrations and containers of glance, placement and nova, then discover-hosts; the db syncs of
// glance, placement and nova need only mariadb (service.yml `needs`): beside keystone's.
const RUN_MS: Record<string, number> = {
  [stepContainerName('keystone', 'bootstrap')]: 500,
  [stepContainerName('glance-api', 'db-sync')]: 30,
  [stepContainerName('placement-api', 'db-sync')]: 30,
  [stepContainerName('nova-api', 'db-sync')]: 50,
  [stepContainerName('nova-api', 'discover-hosts')]: 20,
}

describe('deploy: the services’ own work per step, and the critical path (FakeHost + FakeEngine)', () => {
  it('records each step and started container where it ran, and a critical path between the longest chain and the wall time', async () => {
    const lab = fakeLab(testSite({enabledServices: SERVICES, novaComputeDriver: 'fake'}), registryRefs(IMAGES, ['zed']))
    for (const e of lab.engines.values()) for (const [name, ms] of Object.entries(RUN_MS)) e.runMs.set(name, ms)
    // glance's registration is slow here: nova's containers (containers_need) do not wait for it.
    labKeystone.slow.set('glance', 3000)
    onTestFinished(() => void labKeystone.slow.delete('glance'))
    const started = performance.now()
    const reporter = new RecordingReporter()
    const result = await lab.deploy(SERVICES, undefined, reporter)
    const wall = performance.now() - started
    expect(result.hosts.every((h) => h.ok), JSON.stringify(result.hosts)).toBe(true)

    const timings = result.services.flatMap((s) => s.timings)
    const ms = (host: string, service: string, step: string) => timings.find((t) => t.host === host && t.service === service && t.step === step)?.ms
    // Where the work happened: migrations once, on the first host; every created container on every host.
    expect(ms('lab-1', 'keystone', 'bootstrap')).toBeGreaterThanOrEqual(499)
    expect(timings.find((t) => t.step === 'bootstrap' && t.host === 'lab-1' && t.service === 'keystone')).toMatchObject({phase: 'bootstrap', once: true})
    expect(ms('lab-2', 'keystone', 'bootstrap')).toBeUndefined()
    expect(ms('lab-1', 'nova', 'discover-hosts')).toBeGreaterThanOrEqual(19)
    expect(timings.find((t) => t.step === 'discover-hosts')).toMatchObject({phase: 'post_deploy'})
    for (const s of result.services) {
      expect(s.timings.every((t) => t.host === s.host && t.service === s.service && Number.isInteger(t.ms) && t.ms >= 0)).toBe(true)
      expect(s.timings.filter((t) => t.phase === 'container').map((t) => t.step).sort()).toEqual(s.containers.map((c) => c.name).sort())
      expect(s.timings.filter((t) => t.phase !== 'container').map((t) => t.step)).toEqual(s.bootstrap)
    }

    // Scheduled by step: the db syncs ran while keystone was still being deployed; each
    // registration waited for keystone's container to be healthy, and nova's containers too (its
    // scheduler uses its registration). (placement's and glance's containers need not:
    // side-by-side.test.ts.)
    const at = (code: string, pred: (d: Record<string, unknown>) => boolean) => reporter.events.findIndex((e) => e.code === code && e.host === 'lab-1' && pred(e.data as Record<string, unknown>))
    const keystoneUp = at('service.container.done', (d) => d.service === 'keystone')
    // (nova's has the most work ahead of those: glance's and placement's also when they get one of
    // the three slots soon enough.)
    expect(at('service.step.start', (d) => d.service === 'nova' && d.step === 'db-sync')).toBeLessThan(keystoneUp)
    for (const service of ['glance', 'placement', 'nova']) {
      expect(at('service.step.start', (d) => d.service === service && d.step === 'keystone-register'), service).toBeGreaterThan(keystoneUp)
    }
    expect(at('service.container.replace', (d) => d.service === 'nova')).toBeGreaterThan(keystoneUp)
    // A service is done once its registration is: nova's containers after placement's registration.
    expect(at('service.container.replace', (d) => d.service === 'nova')).toBeGreaterThan(at('service.step.done', (d) => d.service === 'placement' && d.step === 'keystone-register'))
    // nova's containers after its registration and placement's containers, not after glance
    // (containers_need: nova calls glance only for a server; glance's registration takes 3 s
    // here); nova-compute's after placement's and nova's.
    const novaStarts = at('service.container.replace', (d) => d.service === 'nova')
    expect(novaStarts).toBeGreaterThan(at('service.step.done', (d) => d.service === 'nova' && d.step === 'keystone-register'))
    expect(novaStarts).toBeGreaterThan(at('service.container.done', (d) => d.service === 'placement'))
    expect(novaStarts).toBeLessThan(at('service.step.done', (d) => d.service === 'glance' && d.step === 'keystone-register'))
    const computeStarts = reporter.events.findIndex((e) => e.code === 'service.container.replace' && (e.data as {service?: string}).service === 'nova-compute')
    expect(computeStarts).toBeGreaterThan(0)
    for (const service of ['placement', 'nova']) expect(computeStarts, service).toBeGreaterThan(at('service.container.done', (d) => d.service === service))

    // keystone's bootstrap, then discover-hosts at least; no db sync after keystone's is on it.
    expect(result.criticalPathMs).toBeGreaterThanOrEqual(499 + 19)
    expect(result.criticalPathMs).toBeLessThanOrEqual(wall)
    // The floor follows the same rule: lower than with every step after all of its service's dependencies.
    const depends = Object.fromEntries((await loadCatalog(TEMPLATES_DIR)).services.map((d) => [d.name, d.depends]))
    expect(result.criticalPathMs).toBeLessThan(criticalPath(timings, depends))

    // Nothing to do: no step ran, no container started, a floor of 0.
    const again = await lab.deploy(SERVICES)
    expect(again.services.filter((s) => s.status === 'changed').map((s) => [s.host, s.service, s.bootstrap, s.containers.map((c) => c.status)])).toEqual([])
    expect(again.services.flatMap((s) => s.timings)).toEqual([])
    expect(again.criticalPathMs).toBe(0)
  })

  it('a host where a dependency fails while a service runs there halfway: the service stops at its next step, the host keeps its first error', async () => {
    const services = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance']
    const lab = fakeLab(testSite({enabledServices: services}), registryRefs(IMAGES, ['zed']))
    const e1 = lab.engines.get('lab-1')!
    // keystone's migration fails while glance's (started after mariadb only) still runs.
    e1.runMs.set(stepContainerName('keystone', 'bootstrap'), 300)
    e1.exitCodes.set(stepContainerName('keystone', 'bootstrap'), 1)
    e1.runMs.set(stepContainerName('glance-api', 'db-sync'), 1000)
    const reporter = new RecordingReporter()
    const result = await lab.deploy(services, undefined, reporter)
    expect(result.hosts.map((h) => h.ok)).toEqual([false, false])
    expect(result.hosts[0].error?.message).toMatch(/bootstrap step bootstrap of keystone exited with 1/)
    // glance's db sync ran (it needs mariadb only), then glance stopped before its next step: nothing created.
    const done = reporter.of('service.step.done').filter((e) => e.data.service === 'glance').map((e) => e.data.step)
    expect(done).toEqual(['db-sync'])
    for (const e of lab.engines.values()) expect(e.created().filter((c) => c.startsWith('glance'))).toEqual([])
    // Its change ended as a failed revision; no journal entry is left behind.
    const ledger = JSON.parse(lab.hosts.get('lab-1')!.files.get(posix.join(revisionDir('glance', 1), 'record.json'))!.data.toString())
    expect(ledger.outcome).toBe('failed')
    expect(ledger.error).toBe('glance was stopped on lab-1: keystone, which it needs, failed there in this deploy (lab-1: bootstrap step bootstrap of keystone exited with 1)')
    for (const h of lab.hosts.values()) expect([...h.files.keys()].filter((f) => f.startsWith(JOURNAL_ROOT))).toEqual([])
  })

  it('a signal while a service waits halfway: it and all it waits for finish, nothing else starts (exit 130)', async () => {
    const lab = fakeLab(testSite({enabledServices: SERVICES, novaComputeDriver: 'fake'}), registryRefs(IMAGES, ['zed']))
    for (const e of lab.engines.values()) for (const [name, ms] of Object.entries(RUN_MS)) e.runMs.set(name, ms)
    // SIGINT as nova's db sync starts (before keystone and placement are up).
    const reporter = new RecordingReporter()
    const emit = reporter.emit.bind(reporter)
    let signalAt = -1
    reporter.emit = ((code: string, data: never, host?: string) => {
      if (code === 'service.step.start' && (data as {service: string; step: string}).service === 'nova' && (data as {step: string}).step === 'db-sync') {
        requestInterrupt('SIGINT')
        signalAt = reporter.events.length
      }
      emit(code as never, data, host)
    }) as typeof reporter.emit
    try {
      const err = await lab.deploy(SERVICES, undefined, reporter).catch((e: unknown) => e)
      expect(err).toMatchObject({code: 'INTERRUPTED', exitCode: 130})
      expect((err as Error).message).toMatch(/^SIGINT received: stopped before deploying (glance|nova-compute) /)
    } finally {
      resetInterrupt()
    }
    // nova went on to its containers once what it waits for was up (keystone, placement);
    // nova-compute never started. (glance, which nova does not wait for, finished only if it had
    // taken a slot before the signal: a started service finishes.)
    expect(signalAt).toBeGreaterThan(0)
    expect(lab.engines.get('lab-1')!.created()).toEqual(expect.arrayContaining(['keystone', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-metadata']))
    for (const e of lab.engines.values()) expect(e.created()).not.toContain('nova-compute')
    for (const h of lab.hosts.values()) expect([...h.files.keys()].filter((f) => f.startsWith(JOURNAL_ROOT))).toEqual([])
  })

  it('an unrelated service failing on a host while a service runs there halfway: that service still finishes there, and on its other hosts', async () => {
    const services = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance']
    const lab = fakeLab(testSite({enabledServices: services}), registryRefs(IMAGES, ['zed']))
    const e1 = lab.engines.get('lab-1')!
    e1.runMs.set(stepContainerName('glance-api', 'db-sync'), 300)
    // rabbitmq (glance does not depend on it) fails on lab-1 once glance's db sync runs there.
    let glanceSyncing = () => {}
    const syncing = new Promise<void>((resolve) => (glanceSyncing = resolve))
    const reporter = new RecordingReporter()
    const emit = reporter.emit.bind(reporter)
    reporter.emit = ((code: string, data: never, host?: string) => {
      if (code === 'service.step.start' && (data as {service: string}).service === 'glance') glanceSyncing()
      emit(code as never, data, host)
    }) as typeof reporter.emit
    const create = e1.createContainer.bind(e1)
    e1.createContainer = async (opts) => {
      if (opts.name.startsWith('rabbitmq')) {
        await syncing
        throw new Error('fake: no space left on device')
      }
      return create(opts)
    }
    const result = await lab.deploy(services, undefined, reporter)
    expect(result.hosts[0].ok).toBe(false)
    expect(result.hosts[0].error?.message).toMatch(/no space left on device/)
    // glance went on to its registration and container on lab-1; its revision is active.
    expect(reporter.of('service.step.done').filter((e) => e.data.service === 'glance').map((e) => e.data.step).sort()).toEqual(['db-sync', 'keystone-register', 'load-metadefs'])
    expect(e1.created()).toContain('glance-api')
    expect(result.services.find((r) => r.service === 'glance' && r.host === 'lab-1')?.status).toBe('changed')
    // A service that starts after the failure is left out there, as before (glance's other host).
    // Its other host goes on too: the migrations on lab-1 completed before lab-1 failed in rabbitmq.
    expect(result.hosts[1]).toEqual({host: 'lab-2', ok: true})
    expect(lab.engines.get('lab-2')!.created()).toEqual(expect.arrayContaining(['keystone', 'glance-api']))
  })
})
