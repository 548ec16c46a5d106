import {hostname} from 'node:os'
import {posix} from 'node:path'
import {beforeEach, describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {deploy} from '../../../src/apply/deploy.js'
import type {HostSession} from '../../../src/session/host-session.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {requestInterrupt, resetInterrupt} from '../../../src/cli/interrupt.js'
import {OsctlError} from '../../../src/errors.js'
import {JOURNAL_ROOT} from '../../../src/revisions/journal.js'
import {LOCK_ROOT} from '../../../src/revisions/host-locks.js'
import {revisionDir} from '../../../src/revisions/ledger.js'
import type {Site} from '../../../src/site/types.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {fakeHaproxyRuntime} from '../../fakes/fake-haproxy.js'
import {fakeSession, labHost} from '../../fakes/fake-lab-host.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {testSite} from '../../fakes/site.js'

describe('deploy flow (FakeHost + FakeEngine)', () => {
  let site: Site
  let hosts: Map<string, FakeHost>
  let engines: Map<string, FakeEngine>
  let session: HostSession

  beforeEach(() => {
    site = testSite()
    engines = new Map(site.hosts.map((h) => [h.name, new FakeEngine()]))
    for (const e of engines.values()) for (const image of ['mariadb', 'memcached', 'rabbitmq', 'keystone']) e.registry.add(`10.0.0.11:4000/osctl/${image}:zed`)
    hosts = new Map(site.hosts.map((h) => [h.name, labHost(h.name, h.address, engines.get(h.name)!)]))
    session = fakeSession(hosts, engines)
  })

  // The keystone slice: the FakeEngine's registry holds only these images.
  const run = async (services: string[] = ['mariadb', 'memcached', 'rabbitmq', 'keystone']) => {
    const reporter = new RecordingReporter()
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services, targets: site.hosts})
    return {result: await deploy(site, plan, site.hosts, session, reporter), reporter}
  }

  it('deploys in dependency order, creates databases, runs bootstrap steps once, writes units and the ledger', async () => {
    // Reading an image's fingerprint takes a while (a one-shot container hashing its code).
    for (const e of engines.values()) e.runMs.set('osctl-fingerprint-keystone', 50)
    const {result} = await run()
    expect(result.hosts.every((h) => h.ok)).toBe(true)
    const e1 = engines.get('lab-1')!
    const e2 = engines.get('lab-2')!
    // Services start on their dependency graph: rabbitmq beside mariadb and memcached, keystone after both of its dependencies.
    const c1 = e1.created()
    expect([...c1].sort()).toEqual(['keystone', 'mariadb', 'memcached', 'rabbitmq'])
    expect(c1.indexOf('keystone')).toBeGreaterThan(Math.max(c1.indexOf('mariadb'), c1.indexOf('memcached')))
    expect(c1.indexOf('rabbitmq')).toBeLessThan(c1.indexOf('keystone'))
    expect(e2.created()).toEqual(['memcached', 'keystone'])
    const c = e1.containers.get('keystone')!
    expect(c.opts).toMatchObject({networkMode: 'host', restartPolicy: 'no'})
    expect(c.labels).toMatchObject({'io.osctl.managed': 'true', 'io.osctl.service': 'keystone', 'io.osctl.revision': '1'})
    expect(c.labels['io.osctl.config-hash']).toMatch(/^sha256:/)

    // Health gates that run in the container (mariadb's, rabbitmq's), and keystone's databases (SQL on stdin).
    expect(e1.execs.filter((x) => x.input === undefined).map((x) => x.argv[2])).toEqual(expect.arrayContaining(['osctl-mariadb-health', expect.stringContaining('rabbitmqctl')]))
    const statements = e1.execs.filter((x) => x.input !== undefined)
    expect(statements.map((x) => x.argv)).toEqual([['mariadb', '--user=root', '--batch']])
    const sql = statements[0]
    expect(sql.container).toBe('mariadb')
    expect(sql.input).toContain('CREATE DATABASE IF NOT EXISTS `keystone`;')
    expect(sql.input).toContain("ALTER USER 'keystone'@'%' IDENTIFIED BY 'ks-db';")
    // Passwords travel on stdin: nothing in argv, which `ps` shows on the host.

    const steps = (e: FakeEngine) => e.calls.filter((x) => x.startsWith('create osctl-bootstrap-')).map((x) => x.slice('create osctl-bootstrap-keystone-'.length))
    expect(steps(e1)).toEqual(['bootstrap'])
    expect(steps(e2)).toEqual([])
    // keystone's fernet and credential keys: rendered alike on both control hosts, none random.
    const keyFiles = (h: string) => ['fernet-0', 'fernet-1', 'credential-0', 'credential-1'].map((f) => hosts.get(h)!.text(`/etc/osctl/keystone/${f}`))
    expect(keyFiles('lab-1').every((k) => /^[A-Za-z0-9_-]{43}=$/.test(k ?? ''))).toBe(true)
    expect(new Set(keyFiles('lab-1')).size).toBe(4)
    expect(keyFiles('lab-2')).toEqual(keyFiles('lab-1'))
    expect([...e1.containers.keys()].some((n) => /^osctl-(bootstrap|fingerprint)-/.test(n))).toBe(false)
    // keystone's bootstrap (db sync + bootstrap) depends on its code: read by one container of
    // the image, once per image, cached in the ledger.
    expect(e1.calls.filter((x) => x === 'create osctl-fingerprint-keystone')).toHaveLength(1)
    // A first deploy runs the steps whatever the fingerprints say: they are read beside the first
    // step (db-sync starts before the read ends), only for the keys written after each step.
    expect(e1.calls.indexOf('create osctl-bootstrap-keystone-bootstrap')).toBeLessThan(e1.calls.lastIndexOf('rm osctl-fingerprint-keystone'))
    expect(Object.keys(JSON.parse(hosts.get('lab-1')!.text('/var/lib/osctl/services/keystone/fingerprints.json')!)).sort()).toEqual([
      `${e1.containers.get('keystone')!.imageId} /usr/lib/python3/dist-packages/keystone`,
    ])

    const h1 = hosts.get('lab-1')!
    const unit = h1.text('/etc/systemd/system/osctl-svc-keystone.service')!
    expect(unit).toContain('# osctl-managed: service/keystone/keystone\n')
    expect(unit).toMatch(/^ExecStart=\/bin\/sh -c '.*docker start -a "\$\$0".*' keystone$/m)
    expect(unit).toMatch(/After=docker.service[\s\S]*Restart=always/)
    expect(h1.text('/etc/osctl/keystone/bootstrap/bootstrap/config.json')).toContain('"bootstrap_command"')
    expect(h1.files.get('/etc/osctl/keystone/keystone.conf')!.mode).toBe(0o600)
    expect(h1.text('/var/lib/osctl/services/keystone/current')).toBe('1\n')
    const record = JSON.parse(h1.text('/var/lib/osctl/services/keystone/revisions/1/record.json')!)
    expect(record).toMatchObject({format: 1, service: 'keystone', revision: 1, outcome: 'active'})
    expect(record.containers[0]).toMatchObject({name: 'keystone', changed: ['new'], unitName: 'osctl-svc-keystone.service'})
    expect(h1.text(posix.join('/var/lib/osctl/services/keystone/revisions/1/config/keystone/keystone.conf'))).toContain('[database]')
  })

  it('a second deploy with nothing changed recreates, restarts and bootstraps nothing', async () => {
    await run()
    const before = [...engines.values()].map((e) => e.calls.length)
    // The pull lock (revisions/host-locks.ts) is taken and dropped on every run; nothing else is written.
    const changes = (h: FakeHost) => h.ops.filter((o) => !o.includes(`${LOCK_ROOT}/`))
    const writes = [...hosts.values()].map((h) => changes(h).length)
    const {result, reporter} = await run()
    expect(result.recreated).toBe(0)
    expect(result.changed).toBe(false)
    expect(result.services.every((s) => s.status === 'unchanged' && s.revision === 1 && s.bootstrap.length === 0)).toBe(true)
    expect([...engines.values()].map((e) => e.calls.slice(before.shift()).filter((c) => /^(create|start|stop|rm) /.test(c)))).toEqual([[], []])
    expect([...hosts.values()].map((h) => changes(h).length)).toEqual(writes)
    for (const h of hosts.values()) expect([...h.files.keys()].filter((f) => f.startsWith(LOCK_ROOT))).toEqual([])
    expect(hosts.get('lab-1')!.ran(/^systemd-run .* \/var\/lib\/osctl\/libexec\/osctl-swap keystone /)).toBe(true) // from the first run only
    expect(reporter.of('service.container.done').filter((e) => e.data.status === 'unchanged').map((e) => [e.host, e.data.container, e.data.health])).toContainEqual(['lab-1', 'keystone', 'http://10.0.0.11:5000/v3 answered 200'])
  })

  it('a unit whose text alone changed (a newer osctl) is rewritten in place and in its revision\'s saved copy, the container kept', async () => {
    await run()
    const h = hosts.get('lab-1')!
    const unit = '/etc/systemd/system/osctl-svc-keystone.service'
    const saved = posix.join(revisionDir('keystone', 1), 'units', 'osctl-svc-keystone.service')
    const current = h.text(unit)!
    expect(h.text(saved)).toBe(current)
    // As an older osctl wrote it: without the shutdown ordering.
    const older = current.replace(/^(Before|After)=osctl-.*\n/gm, '')
    expect(older).not.toBe(current)
    h.setFile(unit, older).setFile(saved, older)
    const {result} = await run()
    expect(result.recreated).toBe(0)
    expect(h.text(unit)).toBe(current)
    // A later restore of revision 1 (a failed upgrade's, a rollback) writes this copy back.
    expect(h.text(saved)).toBe(current)
  })

  it('a no-op deploy health-checks every converged service at once; a service that changes still goes after its dependencies', async () => {
    await run()
    // mariadb's check (an exec in its container) answers slowly on lab-1.
    const engine = engines.get('lab-1')!
    const exec = engine.exec.bind(engine)
    engine.exec = async (container, argv, opts) => {
      if (container === 'mariadb') await new Promise((resolve) => setTimeout(resolve, 150))
      return exec(container, argv, opts)
    }
    const done = (reporter: RecordingReporter) => reporter.of('service.container.done').filter((e) => e.host === 'lab-1').map((e) => e.data.container)
    // Nothing to do anywhere: keystone is checked beside mariadb, not after it.
    const noop = await run()
    expect(noop.result.recreated).toBe(0)
    expect(done(noop.reporter).indexOf('keystone')).toBeLessThan(done(noop.reporter).indexOf('mariadb'))
    // mariadb changes: keystone (converged itself) waits for it, as in any deploy.
    site.passwords.database_password = 'new-root-pw'
    const changed = await run()
    expect(changed.result.services.find((s) => s.service === 'mariadb')!.status).toBe('changed')
    expect(done(changed.reporter).indexOf('keystone')).toBeGreaterThan(done(changed.reporter).indexOf('mariadb'))
  })

  it('galera on several hosts: each node is asked where a cluster runs, except when mariadb is converged everywhere and Docker calls every node healthy', async () => {
    site = testSite({internalVip: '10.0.0.250'})
    engines = new Map(site.hosts.map((h) => [h.name, new FakeEngine()]))
    for (const e of engines.values()) e.registry.add('10.0.0.11:4000/osctl/mariadb:zed')
    hosts = new Map(site.hosts.map((h) => [h.name, labHost(h.name, h.address, engines.get(h.name)!)]))
    // The grastate read and wsrep status (galera.ts): no cluster yet; the new-cluster marker.
    for (const h of hosts.values()) h.on(/^d=\$\(docker volume inspect/, () => '').on(/^docker volume create mariadb/, () => '')
    session = fakeSession(hosts, engines)
    const asked = () => [...hosts.values()].map((h) => h.calls.filter((c) => c.line.startsWith('d=$(docker volume inspect') && c.line.includes('wsrep_cluster_status')).length)
    const first = await run(['mariadb'])
    expect(first.result.hosts.every((h) => h.ok)).toBe(true)
    expect(asked()).toEqual([1, 1])
    // Converged, but Docker has no word yet (a node that runs without being healthy): asked again.
    await run(['mariadb'])
    expect(asked()).toEqual([2, 2])
    for (const e of engines.values()) e.containers.get('mariadb')!.health = 'healthy'
    const noop = await run(['mariadb'])
    expect(noop.result.recreated).toBe(0)
    expect(asked()).toEqual([2, 2])
    // One node unhealthy in Docker's word: every node is asked.
    engines.get('lab-2')!.containers.get('mariadb')!.health = 'unhealthy'
    await run(['mariadb'])
    expect(asked()).toEqual([3, 3])
  })

  it('with a VIP, a container found stopped (`service stop`, a crash) is started out of haproxy: drained on every haproxy, started, health-gated, then set ready', async () => {
    site = testSite({internalVip: '10.0.0.250'}, undefined, 1)
    const said: string[] = []
    const lab1 = hosts.get('lab-1')!
    fakeHaproxyRuntime(lab1, (c) => {
      if (c.input!.startsWith('show stat')) return '# pxname,svname,qcur,qmax,scur\n'
      said.push(c.input!.trim())
      return '\n'
    })
    await run()
    said.length = 0
    await lab1.run(['systemctl', 'stop', 'osctl-svc-keystone.service'])
    await new Promise((r) => setTimeout(r, 10))
    const {result} = await run()
    expect(result.hosts.map((h) => h.error?.message ?? 'ok')).toEqual(['ok'])
    expect(result.services.find((s) => s.service === 'keystone')!.containers[0].status).toBe('started')
    const at = (match: (c: (typeof lab1.calls)[number]) => boolean) => lab1.calls.map((c, i) => (match(c) ? i : -1)).reduce((a, b) => Math.max(a, b))
    const drain = at((c) => c.input === 'set server keystone/lab-1 state drain\n')
    const start = at((c) => c.line.startsWith('systemctl start osctl-svc-keystone'))
    const ready = at((c) => c.input === 'set server keystone/lab-1 state ready\n')
    expect(said).toEqual(['set server keystone/lab-1 state drain', 'set server keystone/lab-1 state ready'])
    expect(drain).toBeGreaterThan(-1)
    expect(drain).toBeLessThan(start)
    expect(start).toBeLessThan(ready)
    // Left alone and running: not drained.
    said.length = 0
    await run()
    expect(said).toEqual([])
    // Drained by an osctl that was killed before its ready (its marker says so): the next deploy, which read it with the host, sets it ready.
    const marker = `${LOCK_ROOT}/drain-lab-1-keystone.json`
    lab1.setFile(marker, JSON.stringify({kind: 'drain', server: 'lab-1', container: 'keystone', frontends: ['keystone'], command: 'osctl service restart keystone', machine: hostname(), pid: 2 ** 22 + 1, user: 'ops', startedAt: new Date().toISOString()}) + '\n', 0o600)
    lab1.calls.length = 0
    const {reporter} = await run()
    expect(said).toEqual(['set server keystone/lab-1 state ready'])
    // Its container runs (the killed osctl may have started a new one): warmed before it is set ready.
    const warmAt = lab1.calls.findIndex((c) => c.line.includes('docker exec -i keystone sh -c'))
    expect(warmAt).toBeGreaterThan(-1)
    expect(warmAt).toBeLessThan(lab1.calls.findIndex((c) => c.input === 'set server keystone/lab-1 state ready\n'))
    expect(lab1.text(marker)).toBeUndefined()
    expect(reporter.of('balancer.state').map((e) => e.data.left)).toEqual([expect.stringMatching(/^`osctl service restart keystone` \(osctl pid \d+ on /)])
  })

  it('a container left alone that Docker\'s own run of its check calls healthy is not probed again; one it calls unhealthy is', async () => {
    await run()
    const engine = engines.get('lab-1')!
    engine.containers.get('mariadb')!.health = 'healthy'
    engine.containers.get('memcached')!.health = 'unhealthy'
    const execs = engine.execs.length
    const noop = await run()
    expect(noop.result.recreated).toBe(0)
    const detail = (c: string) => noop.reporter.of('service.container.done').find((e) => e.host === 'lab-1' && e.data.container === c)?.data.health
    expect(detail('mariadb')).toBe("healthy (Docker's run of its check)")
    expect(detail('memcached')).toEqual(expect.any(String))
    expect(detail('memcached')).not.toContain('Docker')
    // mariadb's own check is an exec in its container: none this time.
    expect(engine.execs.slice(execs).filter((e) => e.container === 'mariadb')).toEqual([])
  })

  it('recreates only what changed, says why, and writes a new revision', async () => {
    await run()
    site.passwords.keystone_database_password = 'new-pw'
    const {result} = await run()
    const ks = result.services.filter((s) => s.service === 'keystone')
    expect(ks.map((s) => [s.host, s.revision, s.containers[0].status, s.containers[0].changed])).toEqual([
      ['lab-1', 2, 'recreated', ['config:keystone.conf']],
      ['lab-2', 2, 'recreated', ['config:keystone.conf']],
    ])
    expect(result.services.filter((s) => s.service !== 'keystone').every((s) => s.status === 'unchanged')).toBe(true)
    const h1 = hosts.get('lab-1')!
    expect(h1.text('/var/lib/osctl/services/keystone/current')).toBe('2\n')
    expect(JSON.parse(h1.text('/var/lib/osctl/services/keystone/revisions/2/record.json')!).previous).toBe(1)
    expect(engines.get('lab-1')!.containers.get('keystone')!.labels['io.osctl.revision']).toBe('2')
    expect(engines.get('lab-1')!.containers.get('mariadb')!.labels['io.osctl.revision']).toBe('1')
  })

  it('a host that cannot pull an image fails alone, with the build hint', async () => {
    engines.get('lab-2')!.registry.clear()
    const {result} = await run(['memcached'])
    expect(result.hosts.map((h) => h.ok)).toEqual([true, false])
    expect(result.hosts[1].error?.message).toMatch(/cannot pull 10.0.0.11:4000\/osctl\/memcached:zed/)
    expect(result.hosts[1].error?.hint).toContain('osctl image build memcached --push')
  })

  it('skips the dependents of a service that failed on every host it runs on, saying why', async () => {
    // mariadb runs on lab-1 only; there it cannot be pulled.
    engines.get('lab-1')!.registry.delete('10.0.0.11:4000/osctl/mariadb:zed')
    const {result} = await run(['mariadb', 'memcached', 'keystone'])
    expect(result.hosts.map((h) => h.ok)).toEqual([false, false])
    expect(result.hosts[0].error?.message).toMatch(/cannot pull 10.0.0.11:4000\/osctl\/mariadb:zed/)
    expect(result.hosts[1].error?.message).toBe('keystone was not deployed: mariadb failed on every host that runs it')
    // memcached does not need mariadb: it still went to lab-2; keystone was never created there.
    expect(engines.get('lab-2')!.created()).toEqual(['memcached'])
  })

  it('a signal during a service lets it finish on every host, starts no later service, and says so (exit 130)', async () => {
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['mariadb', 'memcached', 'rabbitmq', 'keystone'], targets: site.hosts})
    // SIGINT arrives while memcached's container is being replaced on the first host.
    const reporter = new RecordingReporter()
    const emit = reporter.emit.bind(reporter)
    reporter.emit = ((code: string, data: never, host?: string) => {
      if (code === 'service.container.replace' && (data as {service: string}).service === 'memcached') requestInterrupt('SIGINT')
      emit(code as never, data, host)
    }) as typeof reporter.emit
    try {
      const err = await deploy(site, plan, site.hosts, session, reporter).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OsctlError)
      expect(err).toMatchObject({code: 'INTERRUPTED', exitCode: 130})
      expect((err as OsctlError).message).toMatch(/^SIGINT received: stopped before deploying keystone \(done: (mariadb|memcached|rabbitmq)(, (mariadb|memcached|rabbitmq))*\)$/)
    } finally {
      resetInterrupt()
    }
    // memcached finished on both hosts, as did mariadb and rabbitmq started beside it; keystone, which needs them, never started.
    expect([...engines.get('lab-1')!.created()].sort()).toEqual(['mariadb', 'memcached', 'rabbitmq'])
    expect(engines.get('lab-2')!.created()).toEqual(['memcached'])
    for (const h of hosts.values()) expect([...h.files.keys()].filter((f) => f.startsWith(JOURNAL_ROOT))).toEqual([])
  })
})
