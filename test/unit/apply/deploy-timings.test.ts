import {describe, expect, it} from 'vitest'

import {stepContainerName} from '../../../src/apply/bootstrap-steps.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute']
const IMAGES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute']

// How long the one-shot steps run in the fake engine (ms): a chain keystone → nova → discover-hosts,
// with glance's and placement's db syncs side by side (nova needs both, neither needs the other).
const RUN_MS: Record<string, number> = {
  [stepContainerName('keystone', 'db-sync')]: 40,
  [stepContainerName('keystone', 'bootstrap')]: 30,
  [stepContainerName('glance-api', 'db-sync')]: 60,
  [stepContainerName('placement-api', 'db-sync')]: 60,
  [stepContainerName('nova-api', 'db-sync')]: 50,
  [stepContainerName('nova-api', 'discover-hosts')]: 20,
}

describe('deploy: the services’ own work per step, and the critical path (FakeHost + FakeEngine)', () => {
  it('records each step and started container where it ran, and a critical path between the longest chain and the wall time', async () => {
    const lab = fakeLab(testSite({enabledServices: SERVICES, novaComputeDriver: 'fake'}), registryRefs(IMAGES, ['zed']))
    for (const e of lab.engines.values()) for (const [name, ms] of Object.entries(RUN_MS)) e.runMs.set(name, ms)
    const started = performance.now()
    const result = await lab.deploy(SERVICES)
    const wall = performance.now() - started
    expect(result.hosts.every((h) => h.ok), JSON.stringify(result.hosts)).toBe(true)

    const timings = result.services.flatMap((s) => s.timings)
    const ms = (host: string, service: string, step: string) => timings.find((t) => t.host === host && t.service === service && t.step === step)?.ms
    // Where the work happened: migrations once, on the first host; every created container on every host.
    expect(ms('lab-1', 'keystone', 'db-sync')).toBeGreaterThanOrEqual(39)
    expect(timings.find((t) => t.step === 'db-sync' && t.host === 'lab-1' && t.service === 'keystone')).toMatchObject({phase: 'bootstrap', once: true})
    expect(ms('lab-2', 'keystone', 'db-sync')).toBeUndefined()
    expect(ms('lab-1', 'nova', 'discover-hosts')).toBeGreaterThanOrEqual(19)
    expect(timings.find((t) => t.step === 'discover-hosts')).toMatchObject({phase: 'post_deploy'})
    for (const s of result.services) {
      expect(s.timings.every((t) => t.host === s.host && t.service === s.service && Number.isInteger(t.ms) && t.ms >= 0)).toBe(true)
      expect(s.timings.filter((t) => t.phase === 'container').map((t) => t.step).sort()).toEqual(s.containers.map((c) => c.name).sort())
      expect(s.timings.filter((t) => t.phase !== 'container').map((t) => t.step)).toEqual(s.bootstrap)
    }

    // keystone's two steps, one of the parallel db syncs, nova's, then discover-hosts: 200 ms at least.
    expect(result.criticalPathMs).toBeGreaterThanOrEqual(39 + 29 + 59 + 49 + 19)
    expect(result.criticalPathMs).toBeLessThanOrEqual(wall)
    // glance's and placement's db syncs are never both on it: osctl ran them one after the other.
    const all = timings.reduce((sum, t) => sum + t.ms, 0)
    expect(result.criticalPathMs).toBeLessThanOrEqual(all - Math.min(ms('lab-1', 'glance', 'db-sync')!, ms('lab-1', 'placement', 'db-sync')!))

    // Nothing to do: no step ran, no container started, a floor of 0.
    const again = await lab.deploy(SERVICES)
    expect(again.services.filter((s) => s.status === 'changed').map((s) => [s.host, s.service, s.bootstrap, s.containers.map((c) => c.status)])).toEqual([])
    expect(again.services.flatMap((s) => s.timings)).toEqual([])
    expect(again.criticalPathMs).toBe(0)
  })
})
