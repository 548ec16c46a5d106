import {describe, expect, it} from 'vitest'

import {CONTAINERS_SECONDS, STEP_SECONDS, workAhead} from '../../../src/apply/work-ahead.js'
import {waitsFor} from '../../../src/catalog/catalog-schema.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'

type Step = {name: string; needs?: string[]; expected_seconds?: number}
const def = (name: string, depends: string[], steps: Step[] = [], containers: Array<{expected_seconds?: number}> = [{}]) => ({name, depends, containers, bootstrap: steps.map((s) => ({container: name, command: 'true', once: false, environment: {}, ...s}))})

describe('work ahead of each service (deploy order)', () => {
  it('counts its own steps and containers, then the longest chain that waits for it, from the first step that does', () => {
    const ahead = workAhead([
      def('db', []),
      def('idp', ['db'], [{name: 'sync', needs: ['db']}]),
      // Its sync needs only db; its registration waits for idp; its containers for both.
      def('compute', ['db', 'idp'], [{name: 'sync', needs: ['db'], expected_seconds: 30}, {name: 'register', needs: ['idp']}]),
      def('image', ['db', 'idp'], [{name: 'sync', needs: ['db']}, {name: 'register', needs: ['idp']}]),
      // Two containers side by side: the slower counts.
      def('agent', ['compute'], [], [{expected_seconds: 25}, {}]),
    ])
    const C = CONTAINERS_SECONDS
    const S = STEP_SECONDS
    expect(ahead.get('agent')).toBe(25)
    expect(ahead.get('compute')).toBe(30 + S + C + 25)
    expect(ahead.get('image')).toBe(S + S + C)
    // idp: its own sync and containers, then compute from its registration (not its sync) on.
    expect(ahead.get('idp')).toBe(S + C + (S + C + 25))
    // db: everything waits for it; the longest is compute's whole chain.
    expect(ahead.get('db')).toBe(C + 30 + S + C + 25)
  })

  it('containers that need only some dependencies (containers_need) count from their phase for the others', () => {
    const S = STEP_SECONDS
    const both = (containers_need?: string[]) => workAhead([
      def('idp', []),
      def('image', ['idp'], [], [{expected_seconds: 40}]),
      {...def('compute', ['idp', 'image'], [{name: 'register', needs: ['idp']}], [{expected_seconds: 20}]), containers_need},
    ])
    // All of depends: compute's containers wait for image's.
    expect(both().get('image')).toBe(40 + 20)
    // Only idp: image has nothing waiting for it; idp has compute's registration and containers.
    expect(both(['idp']).get('image')).toBe(40)
    expect(both(['idp']).get('idp')).toBe(CONTAINERS_SECONDS + Math.max(40, S + 20))
  })

  it("waitsFor: a service's steps' needs and its containers' need, not the rest of depends (nova: not glance)", async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const nova = catalog.get('nova')!
    expect(nova.depends).toContain('glance')
    expect(waitsFor(nova).sort()).toEqual(['keystone', 'mariadb', 'memcached', 'placement', 'rabbitmq'])
    // A step without needs waits for all of depends.
    expect(waitsFor({depends: ['a', 'b'], bootstrap: [{needs: ['a']} as never, {} as never], containers_need: ['a']}).sort()).toEqual(['a', 'b'])
    expect(waitsFor({depends: ['a', 'b'], bootstrap: [], containers_need: ['a']})).toEqual(['a'])
    // So glance's work is not ahead of nova's containers, nor of nova-compute after them: its two
    // steps and its container (its registration runs beside them, `beside: containers`).
    const ahead = workAhead(catalog.services.filter((d) => ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute'].includes(d.name)))
    expect(ahead.get('glance')).toBe(STEP_SECONDS * 2 + CONTAINERS_SECONDS)
  })

  it('a step `beside` the others is its own chain: from when it may start, through the containers (beside the steps) or not (beside the containers)', () => {
    const S = STEP_SECONDS
    const C = CONTAINERS_SECONDS
    const run = (beside?: 'steps' | 'containers', registerSeconds = S) => workAhead([
      def('db', []),
      def('idp', ['db'], [], [{expected_seconds: 30}]),
      {...def('api', ['db', 'idp']), bootstrap: [
        {needs: ['db']},
        {needs: ['idp'], expected_seconds: registerSeconds, ...(beside ? {beside} : {})},
      ], containers_need: ['db']},
      def('user', ['api']),
    ])
    // In order: sync, register, containers, then user's containers.
    expect(run().get('api')).toBe(S + S + C + C)
    expect(run().get('idp')).toBe(30 + S + C + C)
    // Beside the containers: api's own work is its sync and containers (or its registration, when longer).
    expect(run('containers').get('api')).toBe(S + C + C)
    expect(run('containers', 40).get('api')).toBe(40 + C)
    // idp: its containers, then api's registration, then user.
    expect(run('containers').get('idp')).toBe(30 + S + C)
    // db: api's sync and containers, then user (not its registration, which waits for idp).
    expect(run('containers').get('db')).toBe(C + Math.max(S + C + C, 30 + S + C))
    // Beside the steps: the registration beside the sync, the containers after both.
    expect(run('steps').get('api')).toBe(S + C + C)
    expect(run('steps', 40).get('api')).toBe(40 + C + C)
    expect(run('steps').get('idp')).toBe(30 + S + C + C)
    expect(run('steps').get('db')).toBe(C + 30 + S + C + C)
  })

  it("the catalog: a dependency is ahead of what waits for it; nova's db sync and nova-api count their expected seconds", async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const ahead = workAhead(catalog.services.filter((d) => ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute'].includes(d.name)))
    const C = CONTAINERS_SECONDS
    // db sync with its registration beside it, its containers (nova-api's 15 s); then nova-compute's.
    expect(ahead.get('nova')).toBe(15 + 15 + C)
    for (const [dep, of] of [['mariadb', 'keystone'], ['keystone', 'glance'], ['keystone', 'nova'], ['nova', 'nova-compute']]) expect(ahead.get(dep)!).toBeGreaterThan(ahead.get(of)!)
  })
})
