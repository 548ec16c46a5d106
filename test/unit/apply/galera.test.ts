import {describe, expect, it} from 'vitest'

import {GaleraNode, galeraStart, parseGrastate} from '../../../src/apply/galera.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {renderService} from '../../../src/catalog/render.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {testSite} from '../../fakes/site.js'
import {chooseBootstrapNode, RecoverNode} from '../../../src/ops/galera-recover.js'

const GRASTATE = `# GALERA saved state
version: 2.1
uuid:    a49b242c-eefa-11f1-9412-6a67db957d11
seqno:   98
safe_to_bootstrap: 1
`
const UUID = 'a49b242c-eefa-11f1-9412-6a67db957d11'
const node = (host: string, extra: Partial<GaleraNode> = {}): GaleraNode => ({host, running: false, primary: false, ...extra})
const data = (seqno: number) => ({grastate: {uuid: UUID, seqno, safeToBootstrap: false}})

describe('galera: when deploy starts a new cluster', () => {
  it('reads grastate.dat (uuid, seqno, safe_to_bootstrap); anything else is no state', () => {
    expect(parseGrastate(GRASTATE)).toEqual({grastate: {uuid: UUID, seqno: 98, safeToBootstrap: true}})
    expect(parseGrastate(GRASTATE.replace('seqno:   98', 'seqno:   -1').replace('safe_to_bootstrap: 1', 'safe_to_bootstrap: 0'))).toEqual({grastate: {uuid: UUID, seqno: -1, safeToBootstrap: false}})
    expect(parseGrastate('')).toEqual({})
  })

  it('joins a running primary component; starts a new one on the first host only when no node ever had cluster data', () => {
    expect(galeraStart([node('c1'), node('c2', {running: true, primary: true, ...data(5)}), node('c3')])).toEqual({kind: 'join', primary: 'c2'})
    expect(galeraStart([node('c1'), node('c2'), node('c3')])).toEqual({kind: 'new', on: 'c1'})
    // A node that started Galera but never joined a cluster has the zero uuid: that is no data.
    expect(galeraStart([node('c1', {grastate: {uuid: '00000000-0000-0000-0000-000000000000', seqno: -1, safeToBootstrap: false}}), node('c2')])).toEqual({kind: 'new', on: 'c1'})
  })

  it('refuses when the cluster is down everywhere and some node has data: only recover may choose', () => {
    expect(() => galeraStart([node('c1', data(98)), node('c2', data(97)), node('c3')])).toThrow(/galera cluster is down.*c1 seqno 98, c2 seqno 97/)
    try {
      galeraStart([node('c1', data(1))])
    } catch (err) {
      expect((err as {hint: string}).hint).toContain('osctl mariadb recover')
    }
  })
})

describe('galera: which node mariadb recover bootstraps from', () => {
  const n = (host: string, seqno: number, safe = false, uuid = UUID): RecoverNode => ({host, uuid, seqno, safeToBootstrap: safe, source: 'grastate'})

  it('the highest seqno wins, whatever the inventory order', () => {
    const r = chooseBootstrapNode([n('c1', 90), n('c2', 98), n('c3', 97)])
    expect(r.chosen.host).toBe('c2')
    expect(r.reason).toBe('highest seqno: 98 (c3 97, c1 90)')
  })

  it('among equals, the node that left last (safe_to_bootstrap), else the first in the inventory', () => {
    expect(chooseBootstrapNode([n('c1', 98), n('c2', 98, true), n('c3', 98)]).chosen.host).toBe('c2')
    expect(chooseBootstrapNode([n('c1', 98), n('c2', 98, true), n('c3', 98)]).reason).toContain('safe_to_bootstrap')
    const r = chooseBootstrapNode([n('c1', 98), n('c2', 98), n('c3', 98)])
    expect(r.chosen.host).toBe('c1')
    expect(r.reason).toBe('seqno 98 like c2, c3: the first of them in the inventory')
  })

  it('refuses nodes of different clusters', () => {
    expect(() => chooseBootstrapNode([n('c1', 5), n('c2', 9, false, 'b0000000-0000-0000-0000-000000000000')])).toThrow(/different galera clusters/)
  })
})

describe('galera: its rendered config', () => {
  it('a joiner prefers a state-transfer donor that haproxy sends no SQL to (not the first control host), any other node as a fallback', async () => {
    const site = testSite({internalVip: '10.0.0.250'})
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const cnf = (i: number) => renderService(catalog.get('mariadb')!, site, site.hosts[i], Overrides.empty()).containers[0].files['osctl.cnf']
    expect(cnf(0)).toMatch(/^wsrep_cluster_address = gcomm:\/\/10\.0\.0\.11,10\.0\.0\.12$/m)
    expect(cnf(0)).toMatch(/^wsrep_sst_donor = lab-2,$/m)
    // The second of two: its only peer is the active node, so no preference (the default: any).
    expect(cnf(1)).not.toContain('wsrep_sst_donor')
  })

  it('a clustered node tells its start script where haproxy asks whether it is Synced ([osctl-clustercheck]); a single server has no agent', async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const cnf = (site: ReturnType<typeof testSite>, i: number) => renderService(catalog.get('mariadb')!, site, site.hosts[i], Overrides.empty()).containers[0].files['osctl.cnf']
    const ha = testSite({internalVip: '10.0.0.250'})
    // The last group of the file: mariadbd reads no group of this name, my_print_defaults does.
    expect(cnf(ha, 1)).toMatch(/\n\[osctl-clustercheck\]\naddress = 10\.0\.0\.12\nport = 4569\n$/)
    expect(cnf(ha, 1).split('[osctl-clustercheck]')[0]).toMatch(/\[galera\]\nwsrep_on = ON/)
    expect(cnf(testSite(), 0)).not.toContain('osctl-clustercheck')
    expect(catalog.get('mariadb')!.containers[0].ports).toContain(4569)
  })
})
