import {beforeEach, describe, expect, it} from 'vitest'

import {observeHost, parseObserved} from '../../../src/apply/host-state.js'
import {serviceFromHost} from '../../../src/apply/observe.js'
import type {RenderedService} from '../../../src/catalog/render.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {deploy} from '../../../src/apply/deploy.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {LOCK_ROOT} from '../../../src/revisions/host-locks.js'
import type {Site} from '../../../src/site/types.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import type {FakeHost} from '../../fakes/fake-host.js'
import {fakeSession, labHost} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SVC = '/var/lib/osctl/services/keystone'
const keystone = {
  service: 'keystone',
  containers: [{name: 'keystone', imageRef: 'r/keystone:zed', files: {'keystone.conf': 'x', 'empty.conf': '', 'gone.conf': 'y'}}],
  steps: [],
} as unknown as RenderedService
const record = (revision: number) => ({format: 1, service: 'keystone', host: 'h', revision, createdAt: 'now', createdBy: 'jürgen@büro', outcome: 'active', containers: []})
const observations = (h: FakeHost) => h.calls.filter((c) => c.argv?.[3] === 'osctl-observe')

describe('host observation (host-state.ts, its script run for real in /bin/sh)', () => {
  let engine: FakeEngine
  let host: ReturnType<typeof labHost>

  beforeEach(async () => {
    engine = new FakeEngine()
    host = labHost('h', '192.0.2.1', engine)
    await engine.createContainer({name: 'keystone', image: 'r/keystone:zed', labels: {'io.osctl.config-hash': 'sha256:1'}})
    await engine.createContainer({name: 'keystone.next', image: 'r/keystone:zed'})
  })

  it('reads journal, ledger (current record, next number), keys, unit and config files and unit states in one exec, containers in one list', async () => {
    host.setFile(`${SVC}/current`, '2\n', 0o600)
    for (const n of [1, 2, 5]) host.setFile(`${SVC}/revisions/${n}/record.json`, JSON.stringify(record(n)), 0o600)
    host.setFile(`${SVC}/bootstrap.json`, '{"db-sync":"k1"}', 0o600)
    host.setFile('/etc/osctl/keystone/keystone.conf', '[DEFAULT]\n# naïve ünïcode ✓\n', 0o600)
    host.setFile('/etc/osctl/keystone/empty.conf', '', 0o600)
    host.setFile('/etc/systemd/system/osctl-svc-keystone.service', '[Unit]\n', 0o644)
    await host.run(['systemctl', 'enable', 'osctl-svc-keystone.service'])
    await host.run(['systemctl', 'start', 'osctl-svc-keystone.service'])
    host.calls.length = 0

    const state = await observeHost(host, engine, [keystone])
    expect(host.calls).toHaveLength(1)
    expect(state.ledgers.get('keystone')).toEqual({record: record(2), nextRevision: 6})
    expect(state.units.get('osctl-svc-keystone.service')).toEqual({active: 'active', enabled: 'enabled'})
    const seen = serviceFromHost(state, keystone, new Map([['r/keystone:zed', 'sha256:img']]))
    expect(seen).toMatchObject({host: 'h', record: record(2), nextRevision: 6, bootstrapKeys: {'db-sync': 'k1'}, fingerprints: {}})
    expect(seen.journal).toBeUndefined()
    const c = seen.containers.get('keystone')!
    expect(c).toMatchObject({spareNext: true, imageId: 'sha256:img', unitText: '[Unit]\n', unitActive: true, unitEnabled: true})
    expect(c.actual?.labels['io.osctl.config-hash']).toBe('sha256:1')
    expect(c.configs).toEqual({'keystone.conf': '[DEFAULT]\n# naïve ünïcode ✓\n', 'empty.conf': '', 'gone.conf': undefined})
  })

  it('a host with nothing yet: no record, revision 1 next, units inactive and disabled, no config', async () => {
    await engine.removeContainer('keystone')
    await engine.removeContainer('keystone.next')
    const seen = serviceFromHost(await observeHost(host, engine, [keystone]), keystone, new Map())
    expect(seen.record).toBeUndefined()
    expect(seen.nextRevision).toBe(1)
    expect(seen.containers.get('keystone')).toEqual({spareNext: false, unitText: undefined, unitActive: false, unitEnabled: false, configs: {'keystone.conf': undefined, 'empty.conf': undefined, 'gone.conf': undefined}})
  })

  it('a current number without its record: no record, and the next number above both', async () => {
    host.setFile(`${SVC}/current`, '3\n', 0o600)
    host.setFile(`${SVC}/revisions/1/record.json`, JSON.stringify(record(1)), 0o600)
    const state = await observeHost(host, engine, [keystone])
    expect(state.ledgers.get('keystone')).toEqual({nextRevision: 4})
  })

  it('creates a lock file in the same exec (whole, 0600) and reads the one-line files beside it; a lock that is there is left as it was', async () => {
    // (A backslash, as in a DOMAIN\\user name, comes through as it is: no echo that reads escapes.)
    const other = '{"kind":"pull","pid":1,"user":"CORP\\\\jdoe \\\\n \\\\c"}'
    host.setFile(`${LOCK_ROOT}/pull-other-1.json`, other + '\n', 0o600)
    host.setFile(`${LOCK_ROOT}/notes.txt`, 'two\nlines\n', 0o600)
    host.calls.length = 0
    const claim = {file: `${LOCK_ROOT}/pull-me-2.json`, data: '{"kind":"pull","pid":2,"user":"jürgen"}'}
    const state = await observeHost(host, engine, [keystone], {lock: claim})
    expect(host.calls).toHaveLength(1)
    expect(state.lock?.created).toBe(true)
    expect(host.text(claim.file)).toBe(claim.data + '\n')
    expect(host.files.get(claim.file)?.mode).toBe(0o600)
    expect(new Map([...state.lock!.dir].map(([k, v]) => [k, v.toString('utf8')]))).toEqual(new Map([[`pull-me-2.json`, claim.data + '\n'], ['pull-other-1.json', other + '\n']]))
    expect(JSON.parse(state.lock!.dir.get('pull-other-1.json')!.toString('utf8')).user).toBe('CORP\\jdoe \\n \\c')
    // The rest of the observation reads as without a lock.
    expect(state.ledgers.get('keystone')).toEqual({nextRevision: 1})

    const again = await observeHost(host, engine, [keystone], {lock: {file: claim.file, data: '{"pid":3}'}})
    expect(again.lock?.created).toBe(false)
    expect(host.text(claim.file)).toBe(claim.data + '\n')
    expect((await observeHost(host, engine, [keystone])).lock).toBeUndefined()
  })

  it('refuses output whose files do not add up (a file changed between its size and its read)', () => {
    const out = 'C\nL\nR-\nF+\nU\nB\n      3 /a\nD\n' + Buffer.from('ab').toString('base64') + '\n'
    expect(() => parseObserved(out, ['s'], ['/a'], [])).toThrow(/a file changed while it was read/)
    expect(parseObserved(out.replace('   3 /a', '   2 /a'), ['s'], ['/a'], []).files.get('/a')).toBe('ab')
  })
})

describe('deploy reads each host once', () => {
  let site: Site
  let hosts: Map<string, ReturnType<typeof labHost>>
  let engines: Map<string, FakeEngine>

  beforeEach(() => {
    site = testSite()
    engines = new Map(site.hosts.map((h) => [h.name, new FakeEngine()]))
    for (const e of engines.values()) for (const image of ['mariadb', 'memcached', 'rabbitmq', 'keystone']) e.registry.add(`10.0.0.11:4000/osctl/${image}:zed`)
    hosts = new Map(site.hosts.map((h) => [h.name, labHost(h.name, h.address, engines.get(h.name)!)]))
  })

  const run = async () => {
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['mariadb', 'memcached', 'rabbitmq', 'keystone'], targets: site.hosts})
    return deploy(site, plan, site.hosts, fakeSession(hosts, engines), new RecordingReporter())
  }

  it('a no-op redeploy: one observation per host, no unit enabled again, no database statement, every container health-checked', async () => {
    await run()
    for (const h of hosts.values()) h.calls.length = 0
    // SQL goes to mariadb on stdin (databases.ts); a health check execs with none.
    const statements = () => [...engines.values()].map((e) => e.execs.filter((x) => x.input !== undefined).length)
    const execs = statements()
    const evals = () => engines.get('lab-1')!.execs.filter((x) => x.argv[2].startsWith('rabbitmqctl -q eval')).length
    const evalsBefore = evals()
    const result = await run()
    expect(result.changed).toBe(false)
    expect(result.services.flatMap((s) => s.containers.map((c) => c.status))).toEqual(Array(6).fill('unchanged'))
    expect([...hosts.values()].map((h) => observations(h).length)).toEqual([1, 1])
    for (const h of hosts.values()) expect(h.ran(/^systemctl (enable|daemon-reload|start)/)).toBe(false)
    expect(statements()).toEqual(execs)
    expect(engines.get('lab-1')!.execs.map((x) => x.argv[2])).toContain('osctl-mariadb-health')
    // Probed from the host: memcached, keystone and rabbitmq's listener (mariadb's gate runs in its
    // container, and rabbitmq's eval there once its listener answered).
    expect(hosts.get('lab-1')!.calls.filter((c) => c.line.startsWith('timeout 5 bash -c')).length).toBe(3)
    expect(evals() - evalsBefore).toBe(1)
    // The host pull lock is created by the observation (no exec of its own) and let go at the end.
    for (const h of hosts.values()) {
      expect(observations(h)[0].argv![4]).toMatch(/^\/var\/lib\/osctl\/locks\/pull-.*\.json$/)
      expect(h.ops.filter((o) => o.startsWith(`create ${LOCK_ROOT}`))).toEqual([])
      expect([...h.files.keys()].filter((f) => f.startsWith(LOCK_ROOT))).toEqual([])
    }
  })

  it('a difference (a config file edited on one host) is observed again before acting, and only there', async () => {
    await run()
    for (const h of hosts.values()) h.calls.length = 0
    const h2 = hosts.get('lab-2')!
    h2.setFile('/etc/osctl/keystone/keystone.conf', 'edited by hand\n', 0o600)
    const result = await run()
    expect(result.recreated).toBe(0)
    expect(h2.text('/etc/osctl/keystone/keystone.conf')).toContain('[database]')
    // deploy's observation first takes the host's pull lock (its file and content), an observation again does not (`-`).
    expect(observations(h2).map((c) => c.argv!.slice(c.argv![4] === '-' ? 5 : 6, c.argv!.indexOf('--')))).toEqual([
      ['/var/lib/osctl/services/memcached', '/var/lib/osctl/services/keystone'],
      ['/var/lib/osctl/services/keystone'],
    ])
    expect(observations(hosts.get('lab-1')!)).toHaveLength(1)
  })
})
