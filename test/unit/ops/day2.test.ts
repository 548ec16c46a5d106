import {execa} from 'execa'
import {mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {parseSince} from '../../../src/cli/since.js'
import {requestInterrupt, resetInterrupt} from '../../../src/cli/interrupt.js'
import {OsctlError} from '../../../src/errors.js'
import {destroyServices, destroySystem} from '../../../src/ops/destroy.js'
import {FOLLOW_SCRIPT, dockerLogsArgs, hostLogs, journalArgs, linePrefixer} from '../../../src/ops/host-logs.js'
import {LocalHost} from '../../../src/hosts/local-host.js'
import {pidAlive} from '../../../src/site/file-lock.js'
import {backupTo, readDumpFile} from '../../../src/ops/mariadb-backup.js'
import {controlService} from '../../../src/ops/service-control.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {journalFile} from '../../../src/revisions/journal.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']

describe('service stop/start/restart (through the units)', () => {
  const lab = () => fakeLab(testSite({}, undefined, 1), registryRefs(SERVICES, ['zed']))
  afterEach(() => resetInterrupt())

  it('stop disables the unit and stops the container; again: unchanged; start enables it and waits for health; restart keeps the container', async () => {
    const l = lab()
    await l.deploy(SERVICES)
    const [h, e] = [l.hosts.get('lab-1')!, l.engines.get('lab-1')!]
    const id = e.containers.get('keystone')!.id
    expect(await controlService(h, e, 'keystone', 'stop')).toEqual([{container: 'keystone', status: 'stopped'}])
    // disable --now, never mask: a masked unit would make deploy's or an operator's start fail.
    expect(h.ran('systemctl disable --now --quiet osctl-svc-keystone.service')).toBe(true)
    expect(h.ran(/^systemctl .*\bmask\b/)).toBe(false)
    await new Promise((r) => setTimeout(r, 10))
    expect(e.containers.get('keystone')!.state).not.toBe('running')
    expect(await controlService(h, e, 'keystone', 'stop')).toEqual([{container: 'keystone', status: 'unchanged'}])

    const started = await controlService(h, e, 'keystone', 'start')
    expect(started).toMatchObject([{container: 'keystone', status: 'started', health: expect.stringContaining('answered 200')}])
    expect(h.ran('systemctl enable --quiet osctl-svc-keystone.service')).toBe(true)
    await new Promise((r) => setTimeout(r, 10))
    expect(e.containers.get('keystone')!.state).toBe('running')
    expect(await controlService(h, e, 'keystone', 'start')).toMatchObject([{status: 'unchanged'}])

    expect(await controlService(h, e, 'keystone', 'restart')).toMatchObject([{container: 'keystone', status: 'restarted'}])
    expect(h.ran('systemctl restart osctl-svc-keystone.service')).toBe(true)
    expect(e.containers.get('keystone')!.id).toBe(id)
  })

  it('with a balancer (internal_vip): a restart or a start runs out of haproxy until healthy, a stop is taken out for good; what stays as it is is not drained', async () => {
    const l = lab()
    await l.deploy(SERVICES)
    const [h, e] = [l.hosts.get('lab-1')!, l.engines.get('lab-1')!]
    const seen: string[] = []
    const wrap = (kind: string) => async <T>(host: string, container: string, fn: () => Promise<T>): Promise<T> => {
      seen.push(`${kind} ${host} ${container} {`)
      const r = await fn()
      seen.push(`} ${h.commands.filter((c) => c.startsWith('systemctl ')).at(-1)}`)
      return r
    }
    const balancer = {around: wrap('around'), out: wrap('out'), recover: async () => {}}
    await controlService(h, e, 'keystone', 'restart', undefined, balancer)
    await controlService(h, e, 'keystone', 'start', undefined, balancer)
    await controlService(h, e, 'keystone', 'stop', undefined, balancer)
    await new Promise((r) => setTimeout(r, 10))
    await controlService(h, e, 'keystone', 'stop', undefined, balancer)
    expect(await controlService(h, e, 'keystone', 'start', undefined, balancer)).toMatchObject([{status: 'started', health: expect.stringContaining('answered 200')}])
    expect(seen).toEqual([
      'around lab-1 keystone {',
      '} systemctl restart osctl-svc-keystone.service',
      'out lab-1 keystone {',
      '} systemctl disable --now --quiet osctl-svc-keystone.service',
      'around lab-1 keystone {',
      '} systemctl start osctl-svc-keystone.service',
    ])
  })

  it('refuses a service not deployed on the host, one under another osctl, and a host with an interrupted upgrade', async () => {
    const l = lab()
    await l.deploy(['mariadb'])
    const [h, e] = [l.hosts.get('lab-1')!, l.engines.get('lab-1')!]
    await expect(controlService(h, e, 'keystone', 'stop')).rejects.toThrow(/keystone is not deployed here/)
    const entry = {format: 1, op: 'upgrade', service: 'mariadb', host: 'lab-1', revision: 2, machine: 'elsewhere', pid: 1, user: 'x', startedAt: new Date().toISOString(), operation: 'upgrade-1'}
    h.setFile(journalFile('mariadb'), JSON.stringify(entry), 0o600)
    await expect(controlService(h, e, 'mariadb', 'stop')).rejects.toThrow(/mariadb is being changed by another osctl/)
    h.setFile(journalFile('mariadb'), JSON.stringify({...entry, startedAt: '2020-01-01T00:00:00Z'}), 0o600)
    await expect(controlService(h, e, 'mariadb', 'stop')).rejects.toThrow(/`service upgrade` of mariadb to revision 2 .* was interrupted/)
    expect(h.commands.some((c) => c.startsWith('systemctl disable'))).toBe(false)
  })

  it('a start that does not become healthy fails with the health detail', async () => {
    const l = lab()
    await l.deploy(SERVICES)
    const [h, e] = [l.hosts.get('lab-1')!, l.engines.get('lab-1')!]
    await controlService(h, e, 'keystone', 'stop')
    const current = JSON.parse(h.text('/var/lib/osctl/services/keystone/revisions/1/record.json')!)
    current.containers[0].spec.health = {...current.containers[0].spec.health, timeoutSeconds: 1}
    h.setFile('/var/lib/osctl/services/keystone/revisions/1/record.json', JSON.stringify(current))
    h.on(/^timeout 5 bash -c /, () => ({exitCode: 1}))
    await expect(controlService(h, e, 'keystone', 'start')).rejects.toThrow(/keystone did not become healthy after start/)
  })

  it('an interrupt stops before the next container', async () => {
    const l = lab()
    await l.deploy(SERVICES)
    requestInterrupt()
    await expect(controlService(l.hosts.get('lab-1')!, l.engines.get('lab-1')!, 'keystone', 'restart')).rejects.toMatchObject({code: 'INTERRUPTED'})
    expect(l.hosts.get('lab-1')!.commands.some((c) => c.startsWith('systemctl restart'))).toBe(false)
  })
})

describe('destroy (one host)', () => {
  /** The docker CLI and unit listing destroy runs, over the fake engine and files. */
  const withDockerCli = (h: FakeHost, names: () => string[], volumes: Set<string>) => {
    h.on(/^ls -1 \/etc\/systemd\/system\/osctl-svc-/, () => [...h.files.keys()].filter((k) => /^\/etc\/systemd\/system\/osctl-svc-/.test(k)).join('\n'))
    h.on(/^docker ps -a /, () => names().join('\n'))
    h.on(/^docker inspect -f /, () => 'mariadb ')
    h.on(/^docker volume ls -q$/, () => [...volumes].join('\n'))
    h.on(/^docker volume rm -f /, (c) => void c.argv!.slice(4).forEach((v) => volumes.delete(v)))
    h.on(/^(rm|rmdir) /, (c) => void [...h.files.keys()].filter((k) => c.argv!.slice(1).some((p) => k === p || k.startsWith(`${p}/`))).forEach((k) => h.files.delete(k)))
  }

  it('removes units (only osctl’s), containers, volumes, configs, ledger and journal; a second run changes nothing', async () => {
    const l = fakeLab(testSite({}, undefined, 1), registryRefs(SERVICES, ['zed']))
    await l.deploy(SERVICES)
    const [h, e] = [l.hosts.get('lab-1')!, l.engines.get('lab-1')!]
    h.setFile('/etc/systemd/system/osctl-svc-foreign.service', '# not osctl\n')
    const volumes = new Set(['mariadb', 'someone-elses'])
    withDockerCli(h, () => [...e.containers.keys()], volumes)
    h.on(/^docker rm -f -v /, (c) => void c.argv!.slice(4).forEach((n) => e.containers.delete(n)))
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const r = await destroyServices(h, catalog)
    expect(r.units.sort()).toEqual(['osctl-svc-keystone.service', 'osctl-svc-mariadb.service', 'osctl-svc-memcached.service', 'osctl-svc-rabbitmq.service'])
    expect(h.ran(/^systemctl disable --now --quiet osctl-svc-/)).toBe(true)
    expect(r.containers).toEqual(['keystone', 'mariadb', 'memcached', 'rabbitmq'])
    expect(r.volumes).toEqual(['mariadb'])
    expect(volumes).toEqual(new Set(['someone-elses']))
    expect(r.paths).toEqual(expect.arrayContaining(['/var/lib/osctl/services', '/etc/osctl/keystone']))
    expect([...h.files.keys()].filter((k) => k.startsWith('/var/lib/osctl/services') || k.startsWith('/etc/osctl/'))).toEqual([])
    expect(h.text('/etc/systemd/system/osctl-svc-foreign.service')).toBe('# not osctl\n')
    expect(e.containers.size).toBe(0)

    const again = await destroyServices(h, catalog)
    expect(again).toEqual({units: [], containers: [], volumes: [], paths: []})
  })

  it('a host without Docker (bootstrap never ran) has nothing but files to remove', async () => {
    const h = new FakeHost('bare')
    h.on(/^ls -1 /, () => '')
    h.on(/^docker /, () => ({exitCode: 127, stderr: 'sh: docker: not found'}))
    h.on(/^rmdir /, () => '')
    expect(await destroyServices(h, await loadCatalog(TEMPLATES_DIR))).toEqual({units: [], containers: [], volumes: [], paths: []})
    expect(h.ran(/^docker volume/)).toBe(false)
  })

  it('--include-system removes each system container present, then /var/lib/osctl', async () => {
    const h = new FakeHost('sys')
    h.setFile('/var/lib/osctl/system/etcd/history.json', '{}')
    h.setFile('/var/lib/osctl/data/etcd/member', 'x')
    h.on(/^systemctl /, () => '').on(/^runc /, () => '').on(/^rm /, () => '').on(/^umoci /, () => '').on(/^sh -c /, () => '')
    const r = await destroySystem(h)
    expect(r).toEqual({system: ['etcd'], paths: ['/var/lib/osctl']})
    expect(h.ran('systemctl disable --now osctl-etcd.service')).toBe(true)
    expect(h.ran('rm -rf -- /var/lib/osctl')).toBe(true)
    expect(h.ran(/osctl-registry/)).toBe(false)
  })
})

describe('mariadb backup file', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-backup-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })
  const dbHost = (dump: string, exitCode = 0) =>
    new FakeHost('db')
      .on(/^docker exec mariadb mariadb -N -B -e 'SHOW DATABASES'$/, () => 'information_schema\nkeystone\nmysql\nnova\nperformance_schema\nsys\n')
      .on(/^docker exec mariadb mariadb-dump /, () => ({exitCode, stdout: dump, stderr: exitCode ? 'mariadb-dump: Got error: 2002\n' : ''}))

  it('one consistent dump of the user databases, 0600, whole; readable by restore', async () => {
    const h = dbHost('-- MariaDB dump 10.19\nCREATE DATABASE keystone;\n-- Dump completed on 2026-01-01\n')
    const b = await backupTo(h, join(dir, 'backups'))
    expect(h.calls.find((c) => c.line.includes('mariadb-dump'))!.argv).toEqual(['docker', 'exec', 'mariadb', 'mariadb-dump', '--single-transaction', '--routines', '--events', '--hex-blob', '--add-drop-database', '--databases', 'keystone', 'nova'])
    expect(b.path).toMatch(new RegExp(`^${join(dir, 'backups')}/mariadb-\\d{8}T\\d{6}Z\\.sql$`))
    expect(b.databases).toEqual(['keystone', 'nova'])
    const st = await stat(b.path)
    expect(st.mode & 0o777).toBe(0o600)
    expect(st.size).toBe(b.bytes)
    expect(await readFile(b.path, 'utf8')).toMatch(/^-- osctl mariadb backup of db at .*; databases: keystone nova\n-- MariaDB dump/)
    expect((await readDumpFile(b.path)).length).toBe(b.bytes)
  })

  it('a failed or cut-short dump leaves no file', async () => {
    await expect(backupTo(dbHost('-- MariaDB dump\n', 2), dir)).rejects.toThrow(/mariadb-dump failed: mariadb-dump: Got error: 2002/)
    await expect(backupTo(dbHost('-- MariaDB dump\nINSERT'), dir)).rejects.toThrow(/without its completion line/)
    expect(await readdir(dir)).toEqual([])
  })

  it('restore refuses (exit 2, at FILE) a missing file, something else, a cut-short dump', async () => {
    const other = join(dir, 'x.sql')
    await writeFile(other, 'SELECT 1;\n')
    const cut = join(dir, 'cut.sql')
    await writeFile(cut, '-- MariaDB dump 10.19\nINSERT INTO')
    for (const [f, msg] of [[join(dir, 'none.sql'), /no such file/], [other, /not a mariadb dump/], [cut, /incomplete/]] as const) {
      const err = (await readDumpFile(f).catch((e: unknown) => e)) as OsctlError
      expect(err.message).toMatch(msg)
      expect([err.exitCode, err.location]).toEqual([2, 'FILE'])
    }
  })
})

describe('log flags', () => {
  it('--since: durations and dates as Unix seconds, anything else exit 2 at --since', () => {
    const now = Date.parse('2026-01-31T12:00:00Z')
    expect(parseSince('10m', now)).toBe(now / 1000 - 600)
    expect(parseSince('2h', now)).toBe(now / 1000 - 7200)
    expect(parseSince('1d', now)).toBe(now / 1000 - 86400)
    expect(parseSince('2026-01-31T11:00:00Z', now)).toBe(now / 1000 - 3600)
    expect(parseSince('2026-01-30', now)).toBe(Date.parse('2026-01-30') / 1000)
    for (const bad of ['yesterday', '10 minutes', '-5m', '', '2026-13-45']) {
      expect(() => parseSince(bad, now), bad).toThrow(expect.objectContaining({exitCode: 2, location: '--since'}))
    }
  })

  it('journalctl and docker logs get the same window; followed lines are prefixed whole', () => {
    expect(journalArgs('osctl-etcd.service', {tail: 5, since: 100, follow: true})).toEqual(['journalctl', '-u', 'osctl-etcd.service', '--no-pager', '-o', 'short-iso', '-n', '5', '--since', '@100', '-f'])
    expect(dockerLogsArgs('keystone', {tail: 5, since: 100})).toEqual(['docker', 'logs', '--tail', '5', '--since', '100', 'keystone'])
    const out: string[] = []
    const sink = linePrefixer('h1', (t) => out.push(t))
    sink('a\nb')
    sink('c\n')
    expect(out.join('')).toBe('h1 | a\nh1 | bc\n')
  })

  it('a followed command ends on the host once osctl is gone (its stdin closes), and ends the call by itself with its status', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osctl-follow-'))
    try {
      // The follower writes its pid, then runs until killed: osctl's side is this process's open stdin.
      const follower = execa('sh', ['-c', FOLLOW_SCRIPT, 'sh', 'sh', '-c', `echo $$ > ${dir}/pid; echo following; exec sleep 600`], {stdin: 'pipe', reject: false})
      let out = ''
      follower.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      for (let i = 0; i < 100 && !out.includes('following'); i++) await new Promise((r) => setTimeout(r, 20))
      const pid = Number((await readFile(join(dir, 'pid'), 'utf8')).trim())
      expect(pidAlive(pid)).toBe(true)
      follower.stdin!.end()
      const r = await follower
      expect(r.exitCode).toBe(143)
      expect(pidAlive(pid)).toBe(false)
      // A command that ends by itself returns at once with its output (stderr merged) and status, stdin still open.
      const chunks: string[] = []
      const err = await hostLogs(new LocalHost(), ['sh', '-c', 'echo one; echo two >&2; exit 3'], (c) => chunks.push(c)).catch((e: OsctlError) => e)
      expect(err).toMatchObject({code: 'COMMAND_FAILED', message: expect.stringContaining('exited with 3: two')})
      expect(chunks.join('')).toBe('one\ntwo\n')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
