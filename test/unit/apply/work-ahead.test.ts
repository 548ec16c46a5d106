import {describe, expect, it} from 'vitest'

import {CONTAINERS_SECONDS, STEP_SECONDS, workAhead} from '../../../src/apply/work-ahead.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'

type Step = {name: string; needs?: string[]; expected_seconds?: number}
const def = (name: string, depends: string[], steps: Step[] = []) => ({name, depends, bootstrap: steps.map((s) => ({container: name, command: 'true', once: false, environment: {}, ...s}))})

describe('work ahead of each service (deploy order)', () => {
  it('counts its own steps and containers, then the longest chain that waits for it, from the first step that does', () => {
    const ahead = workAhead([
      def('db', []),
      def('idp', ['db'], [{name: 'sync', needs: ['db']}]),
      // Its sync needs only db; its registration waits for idp; its containers for both.
      def('compute', ['db', 'idp'], [{name: 'sync', needs: ['db'], expected_seconds: 30}, {name: 'register', needs: ['idp']}]),
      def('image', ['db', 'idp'], [{name: 'sync', needs: ['db']}, {name: 'register', needs: ['idp']}]),
      def('agent', ['compute']),
    ])
    const C = CONTAINERS_SECONDS
    const S = STEP_SECONDS
    expect(ahead.get('agent')).toBe(C)
    expect(ahead.get('compute')).toBe(30 + S + C + C)
    expect(ahead.get('image')).toBe(S + S + C)
    // idp: its own sync and containers, then compute from its registration (not its sync) on.
    expect(ahead.get('idp')).toBe(S + C + (S + C + C))
    // db: everything waits for it; the longest is compute's whole chain.
    expect(ahead.get('db')).toBe(C + 30 + S + C + C)
  })

  it("the catalog: nova's chain is ahead of glance's and placement's, so it gets a slot and its images first", async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const ahead = workAhead(catalog.services.filter((d) => ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute'].includes(d.name)))
    expect(ahead.get('nova')!).toBeGreaterThan(ahead.get('glance')!)
    expect(ahead.get('nova')!).toBeGreaterThan(ahead.get('placement')!)
    expect(ahead.get('mariadb')!).toBeGreaterThan(ahead.get('nova')!)
  })
})
