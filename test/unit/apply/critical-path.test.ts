import {describe, expect, it} from 'vitest'

import {StepTiming, criticalPath, criticalPathLine} from '../../../src/apply/critical-path.js'

const boot = (host: string, service: string, step: string, ms: number, once = false): StepTiming => ({host, service, step, phase: 'bootstrap', ms, ...(once ? {once} : {})})
const box = (host: string, service: string, ms: number, step = service): StepTiming => ({host, service, step, phase: 'container', ms})
const post = (host: string, service: string, step: string, ms: number): StepTiming => ({host, service, step, phase: 'post_deploy', ms})

// The keystone slice's dependencies, as templates/*/service.yml declare them.
const DEPS = {mariadb: [], memcached: [], rabbitmq: [], keystone: ['mariadb', 'memcached'], glance: ['mariadb', 'memcached', 'keystone'], nova: ['keystone', 'glance'], 'nova-compute': ['nova']}

describe('criticalPath', () => {
  it('is 0 when nothing ran', () => {
    expect(criticalPath([], DEPS)).toBe(0)
  })

  it('a chain adds up: a service waits for its dependency, and its steps run before its containers', () => {
    const t = [box('h1', 'mariadb', 1000), boot('h1', 'keystone', 'db-sync', 3000, true), boot('h1', 'keystone', 'bootstrap', 2000, true), box('h1', 'keystone', 4000)]
    expect(criticalPath(t, DEPS)).toBe(10_000)
  })

  it('parallel branches: the longer one counts, independent services do not wait for each other', () => {
    // mariadb, memcached and rabbitmq need nothing: side by side. keystone waits for the slower of its two.
    const t = [box('h1', 'mariadb', 5000), box('h1', 'memcached', 500), box('h1', 'rabbitmq', 9000), box('h1', 'keystone', 2000)]
    expect(criticalPath(t, DEPS)).toBe(9000)
    expect(criticalPath(t.filter((x) => x.service !== 'rabbitmq'), DEPS)).toBe(7000)
  })

  it("a service's containers on one host start side by side", () => {
    const t = [boot('h1', 'nova', 'db-sync', 1000, true), box('h1', 'nova', 3000, 'nova-api'), box('h1', 'nova', 2000, 'nova-conductor')]
    expect(criticalPath(t, DEPS)).toBe(4000)
  })

  it('two hosts proceed independently; a dependency is done when it is done on all of its hosts', () => {
    // memcached is slow on h2 only; keystone on h1 still waits for it (deploy finishes a service everywhere first).
    const t = [box('h1', 'memcached', 100), box('h2', 'memcached', 6000), box('h1', 'mariadb', 1000), box('h1', 'keystone', 2000), box('h2', 'keystone', 2000)]
    expect(criticalPath(t, DEPS)).toBe(8000)
    // Without the slow host: mariadb (1000) then keystone (2000) on either host.
    expect(criticalPath(t.filter((x) => !(x.host === 'h2' && x.service === 'memcached')), DEPS)).toBe(3000)
  })

  it('a service on one host waits for a dependency that only runs on another host', () => {
    // mariadb only on h1 (the database host); keystone on h2 cannot start before it.
    const t = [box('h1', 'mariadb', 4000), box('h2', 'memcached', 500), box('h2', 'keystone', 1500)]
    expect(criticalPath(t, DEPS)).toBe(5500)
  })

  it('dependencies count transitively when the one in between had nothing to do', () => {
    // glance did no work (already running); nova still needs keystone, which needs mariadb.
    const t = [box('h1', 'mariadb', 3000), box('h1', 'nova', 1000)]
    expect(criticalPath(t, DEPS)).toBe(4000)
    // A dependency with no work here was already running: nothing to wait for.
    expect(criticalPath([box('h1', 'nova', 1000)], DEPS)).toBe(1000)
  })

  it("the other hosts wait for the first host's once steps, not for its containers", () => {
    const t = [boot('h1', 'keystone', 'db-sync', 3000, true), box('h1', 'keystone', 5000), box('h2', 'keystone', 4000)]
    // h1: 3000 + 5000; h2: after the migration, 3000 + 4000.
    expect(criticalPath(t, DEPS)).toBe(8000)
    expect(criticalPath([...t.slice(0, 2), box('h2', 'keystone', 6000)], DEPS)).toBe(9000)
    // A step that is not `once` holds back nobody else.
    const notOnce = [boot('h1', 'keystone', 'db-sync', 3000), box('h1', 'keystone', 1000), box('h2', 'keystone', 3500)]
    expect(criticalPath(notOnce, DEPS)).toBe(4000)
  })

  it('a once step after other steps: the others wait up to its end', () => {
    const t = [boot('h1', 'glance', 'prepare', 1000), boot('h1', 'glance', 'db-sync', 2000, true), boot('h1', 'glance', 'register', 500), box('h1', 'glance', 100), box('h2', 'glance', 4000)]
    expect(criticalPath(t, DEPS)).toBe(7000)
  })

  it('post_deploy steps wait for the whole deploy, and for those of their dependencies', () => {
    // nova-compute on h2 is the last to converge; discover-hosts on h1 runs after it.
    const t = [box('h1', 'nova', 2000), box('h2', 'nova-compute', 3000), post('h1', 'nova', 'discover-hosts', 700)]
    expect(criticalPath(t, DEPS)).toBe(5700)
    // Post steps of unrelated services run side by side after convergence; a dependent's waits for its dependency's.
    const two = [box('h1', 'rabbitmq', 1000), post('h1', 'keystone', 'register', 400), post('h1', 'nova', 'discover-hosts', 700), post('h1', 'rabbitmq', 'policy', 5000)]
    expect(criticalPath(two, DEPS)).toBe(6000)
    expect(criticalPath(two.slice(0, 3), DEPS)).toBe(2100)
  })

  it('a step that needs only some dependencies starts once they are done; the later steps and the containers wait for all', () => {
    const NEEDS = {nova: {steps: {'db-sync': ['mariadb']}}}
    const deps = {mariadb: [], keystone: ['mariadb'], glance: ['keystone'], nova: ['keystone', 'glance']}
    // mariadb 1000, keystone 3000, glance 2000: nova's db sync (4000) runs beside them.
    const t = [box('h1', 'mariadb', 1000), box('h1', 'keystone', 3000), box('h1', 'glance', 2000), boot('h1', 'nova', 'db-sync', 4000, true), boot('h1', 'nova', 'register', 500, true), box('h1', 'nova', 1500)]
    // db sync 1000 → 5000; register after glance (6000) → 6500; containers → 8000.
    expect(criticalPath(t, deps, NEEDS)).toBe(8000)
    // Without needs: after glance (6000), 4000 + 500 + 1500.
    expect(criticalPath(t, deps)).toBe(12_000)
    // A longer db sync is the chain itself: 1000 + 9000, then register and containers.
    expect(criticalPath(t.map((x) => (x.step === 'db-sync' ? {...x, ms: 9000} : x)), deps, NEEDS)).toBe(12_000)
    // Its other hosts wait for the first host's once steps only.
    expect(criticalPath([...t, box('h2', 'nova', 1000)], deps, NEEDS)).toBe(8000)
  })

  it('containers that need only some dependencies (containers_need) start once those are done and the steps ran', () => {
    const deps = {mariadb: [], keystone: ['mariadb'], glance: ['keystone'], nova: ['keystone', 'glance']}
    const t = [box('h1', 'mariadb', 1000), box('h1', 'keystone', 3000), box('h1', 'glance', 5000), boot('h1', 'nova', 'register', 500, true), box('h1', 'nova', 1500)]
    // register after keystone (4000) → 4500; containers after glance (9000) → 10500.
    expect(criticalPath(t, deps, {nova: {steps: {register: ['keystone']}}})).toBe(10_500)
    // Containers after keystone only (and the register step): → 6000; glance's 9000 is the chain.
    expect(criticalPath(t, deps, {nova: {steps: {register: ['keystone']}, containers: ['keystone']}})).toBe(9000)
    expect(criticalPath(t.map((x) => (x.service === 'nova' && x.phase === 'container' ? {...x, ms: 6000} : x)), deps, {nova: {steps: {register: ['keystone']}, containers: ['keystone']}})).toBe(10_500)
  })

  it('a step beside the containers (`beside: containers`) waits only for what it needs; the service is done when it and the containers are', () => {
    const deps = {mariadb: [], keystone: ['mariadb'], placement: ['mariadb', 'keystone'], nova: ['placement']}
    const t = [box('h1', 'mariadb', 1000), box('h1', 'keystone', 5000), boot('h1', 'placement', 'db-sync', 1000, true), boot('h1', 'placement', 'register', 500, true), box('h1', 'placement', 3000), box('h1', 'nova', 2000)]
    const needs = {placement: {steps: {'db-sync': ['mariadb'], register: ['keystone']}}}
    // In order: db sync 1000 → 2000, register after keystone (6000) → 6500, container → 9500, nova → 11500.
    expect(criticalPath(t, deps, needs)).toBe(11_500)
    // Beside, containers after mariadb: db sync → 2000, container → 5000; register 6000 → 6500; nova after both → 8500.
    const beside = {placement: {...needs.placement, containers: ['mariadb'], beside: {register: 'containers' as const}}}
    expect(criticalPath(t, deps, beside)).toBe(8500)
    // A slower container is the chain again: 2000 + 7000, then nova.
    expect(criticalPath(t.map((x) => (x.service === 'placement' && x.phase === 'container' ? {...x, ms: 7000} : x)), deps, beside)).toBe(11_000)
    // Beside the steps: the registration (6000 → 6500) beside the db sync, the container after both → 9500, nova → 11500.
    expect(criticalPath(t, deps, {placement: {...beside.placement, beside: {register: 'steps' as const}}})).toBe(11_500)
    // ... which is shorter than in order when the db sync is the longer: db sync 1000 → 8000, register 6500, container → 11000, nova → 13000 (in order: register → 8500, 13500).
    const longSync = t.map((x) => (x.step === 'db-sync' ? {...x, ms: 7000} : x))
    expect(criticalPath(longSync, deps, {placement: {...beside.placement, beside: {register: 'steps' as const}}})).toBe(13_000)
    expect(criticalPath(longSync, deps, needs)).toBe(13_500)
  })

  it("with what services wait for (waitsFor), a dependent of nova does not wait for glance's long container", () => {
    const deps = {mariadb: [], keystone: ['mariadb'], glance: ['keystone'], nova: ['keystone'], 'nova-compute': ['nova']}
    const t = [box('h1', 'mariadb', 1000), box('h1', 'keystone', 2000), box('h1', 'glance', 9000), box('h1', 'nova', 3000), box('h1', 'nova-compute', 1000)]
    // keystone 3000, nova 6000, nova-compute 7000; glance alone to 12000 is the floor.
    expect(criticalPath(t, deps)).toBe(12_000)
    // Through glance (depends): nova-compute after glance, 12000 + 3000 + 1000.
    expect(criticalPath(t, {...deps, nova: ['keystone', 'glance']})).toBe(16_000)
  })

  it('rounds to whole milliseconds and refuses a dependency cycle', () => {
    expect(criticalPath([box('h1', 'mariadb', 0.4), box('h1', 'keystone', 1.3)], DEPS)).toBe(2)
    expect(() => criticalPath([box('h1', 'a', 1)], {a: ['b'], b: ['a']})).toThrow(/cycle: a → b → a/)
  })
})

describe('criticalPathLine', () => {
  it("puts the floor beside osctl's wall time, and says nothing when nothing ran", () => {
    expect(criticalPathLine(41_234, 95_300)).toBe('critical path 41.2 s (osctl 95.3 s, ratio 2.31)')
    expect(criticalPathLine(0, 3_000)).toBeUndefined()
  })
})
