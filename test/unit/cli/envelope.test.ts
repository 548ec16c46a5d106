import {chmod, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import ssh2 from 'ssh2'
import {afterAll, beforeAll, describe, expect, expectTypeOf, it} from 'vitest'

import type {Envelope} from '../../../src/cli/envelope.js'
import {envelope, errorEnvelope, exitCodeOf, hostError, outcome} from '../../../src/cli/envelope.js'
import {OsctlError} from '../../../src/errors.js'
import type Bootstrap from '../../../src/commands/bootstrap.js'
import type Certificates from '../../../src/commands/certificates.js'
import type ConfigGenerate from '../../../src/commands/config/generate.js'
import type ConfigValidate from '../../../src/commands/config/validate.js'
import type Deploy from '../../../src/commands/deploy.js'
import type Destroy from '../../../src/commands/destroy.js'
import type MariadbBackup from '../../../src/commands/mariadb/backup.js'
import type MariadbRecover from '../../../src/commands/mariadb/recover.js'
import type MariadbRestore from '../../../src/commands/mariadb/restore.js'
import type ServiceRestart from '../../../src/commands/service/restart.js'
import type ServiceStart from '../../../src/commands/service/start.js'
import type ServiceStop from '../../../src/commands/service/stop.js'
import type SystemLogs from '../../../src/commands/system/logs.js'
import type Genpwd from '../../../src/commands/genpwd.js'
import type HostAdd from '../../../src/commands/host/add.js'
import type HostRemove from '../../../src/commands/host/remove.js'
import type ImageBuild from '../../../src/commands/image/build.js'
import type ImageGuest from '../../../src/commands/image/guest.js'
import type ImageList from '../../../src/commands/image/list.js'
import type ImagePrune from '../../../src/commands/image/prune.js'
import type LabDown from '../../../src/commands/lab/down.js'
import type LabStatus from '../../../src/commands/lab/status.js'
import type LabUp from '../../../src/commands/lab/up.js'
import type PostDeploy from '../../../src/commands/post-deploy.js'
import type SiteImport from '../../../src/commands/site/import.js'
import type Prechecks from '../../../src/commands/prechecks.js'
import type Pull from '../../../src/commands/pull.js'
import type ServiceHistory from '../../../src/commands/service/history.js'
import type ServiceList from '../../../src/commands/service/list.js'
import type ServiceLogs from '../../../src/commands/service/logs.js'
import type ServiceRollback from '../../../src/commands/service/rollback.js'
import type ServiceStatus from '../../../src/commands/service/status.js'
import type ServiceUpgrade from '../../../src/commands/service/upgrade.js'
import type SystemHistory from '../../../src/commands/system/history.js'
import type SystemList from '../../../src/commands/system/list.js'
import type SystemRemove from '../../../src/commands/system/remove.js'
import type SystemRollback from '../../../src/commands/system/rollback.js'
import type SystemStatus from '../../../src/commands/system/status.js'
import type SystemUpgrade from '../../../src/commands/system/upgrade.js'
import type Upgrade from '../../../src/commands/upgrade.js'
import {makeSite, yaml} from '../../fixtures/sites/make-site.js'
import {REPO_ROOT, runCli} from '../../helpers/cli.js'

type Result<C extends abstract new (...args: never[]) => {run(): Promise<unknown>}> = Awaited<ReturnType<InstanceType<C>['run']>>

/** Every command, by id: a command missing here fails the test below, so none escapes the envelope. */
const COMMANDS = {
  bootstrap: null as unknown as Result<typeof Bootstrap>,
  certificates: null as unknown as Result<typeof Certificates>,
  'config:generate': null as unknown as Result<typeof ConfigGenerate>,
  'config:validate': null as unknown as Result<typeof ConfigValidate>,
  deploy: null as unknown as Result<typeof Deploy>,
  genpwd: null as unknown as Result<typeof Genpwd>,
  'host:add': null as unknown as Result<typeof HostAdd>,
  'host:remove': null as unknown as Result<typeof HostRemove>,
  'image:build': null as unknown as Result<typeof ImageBuild>,
  'image:guest': null as unknown as Result<typeof ImageGuest>,
  'image:list': null as unknown as Result<typeof ImageList>,
  'image:prune': null as unknown as Result<typeof ImagePrune>,
  'lab:down': null as unknown as Result<typeof LabDown>,
  'lab:status': null as unknown as Result<typeof LabStatus>,
  'lab:up': null as unknown as Result<typeof LabUp>,
  'post-deploy': null as unknown as Result<typeof PostDeploy>,
  'site:import': null as unknown as Result<typeof SiteImport>,
  prechecks: null as unknown as Result<typeof Prechecks>,
  pull: null as unknown as Result<typeof Pull>,
  'service:history': null as unknown as Result<typeof ServiceHistory>,
  'service:list': null as unknown as Result<typeof ServiceList>,
  'service:logs': null as unknown as Result<typeof ServiceLogs>,
  'service:rollback': null as unknown as Result<typeof ServiceRollback>,
  'service:status': null as unknown as Result<typeof ServiceStatus>,
  'service:upgrade': null as unknown as Result<typeof ServiceUpgrade>,
  'service:stop': null as unknown as Result<typeof ServiceStop>,
  'service:start': null as unknown as Result<typeof ServiceStart>,
  'service:restart': null as unknown as Result<typeof ServiceRestart>,
  'system:logs': null as unknown as Result<typeof SystemLogs>,
  'mariadb:backup': null as unknown as Result<typeof MariadbBackup>,
  'mariadb:recover': null as unknown as Result<typeof MariadbRecover>,
  'mariadb:restore': null as unknown as Result<typeof MariadbRestore>,
  destroy: null as unknown as Result<typeof Destroy>,
  'system:history': null as unknown as Result<typeof SystemHistory>,
  'system:list': null as unknown as Result<typeof SystemList>,
  'system:remove': null as unknown as Result<typeof SystemRemove>,
  'system:rollback': null as unknown as Result<typeof SystemRollback>,
  'system:status': null as unknown as Result<typeof SystemStatus>,
  'system:upgrade': null as unknown as Result<typeof SystemUpgrade>,
  upgrade: null as unknown as Result<typeof Upgrade>,
}

describe('the --json envelope', () => {
  it("every command's result type is an Envelope (checked by the compiler), and every command is listed", async () => {
    expectTypeOf(COMMANDS).toExtend<Record<string, Envelope>>()
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8'))
    expect(Object.keys(COMMANDS).sort()).toEqual(Object.keys(manifest.commands).sort())
  })

  it('per-host outcomes: one error form, exit code per host, the whole exit code from the hosts', () => {
    const down = outcome('a', {ok: false, error: new OsctlError('HOST_UNREACHABLE', 'a: connection refused', {hint: 'check sshd'})})
    expect(down).toEqual({host: 'a', ok: false, changed: false, exitCode: 5, error: {code: 'HOST_UNREACHABLE', message: 'a: connection refused', hint: 'check sshd'}})
    // The forms the core used to return: toJSON() records and plain strings.
    expect(hostError(new OsctlError('TIMEOUT', 't', {location: 'x.yml:3'}).toJSON())).toEqual({code: 'TIMEOUT', message: 't', location: 'x.yml:3'})
    expect(hostError('boom')).toEqual({code: 'COMMAND_FAILED', message: 'boom'})
    const up = outcome('b', {ok: true, changed: true, revision: 3})
    expect(up).toEqual({host: 'b', ok: true, changed: true, exitCode: 0, revision: 3})
    expect(exitCodeOf([up])).toBe(0)
    expect(exitCodeOf([up, down])).toBe(3)
    expect(exitCodeOf([down, {...down, host: 'c'}])).toBe(5)
    expect(exitCodeOf([outcome('x', {ok: false, error: new OsctlError('ROLLED_BACK', 'r')})])).toBe(4)
    expect(exitCodeOf([down, outcome('x', {ok: false, error: 'failed'})])).toBe(1)
    expect(envelope('deploy', [up], {recreated: 1})).toEqual({ok: true, command: 'deploy', exitCode: 0, hosts: [up], recreated: 1})
    expect(envelope('deploy', [up], {}, 1).ok).toBe(false)
    const err = errorEnvelope('deploy', new OsctlError('CONFIG_INVALID', 'bad', {location: 'osctl.yml:2'}))
    expect(err).toEqual({ok: false, command: 'deploy', exitCode: 2, hosts: [], error: {code: 'CONFIG_INVALID', message: 'bad', location: 'osctl.yml:2', exitCode: 2}})
  })
})

/**
 * Every command run for real with --json: the document on stdout has the envelope's fields, its
 * exitCode is the process's, and per-host entries carry host/ok/changed/exitCode. Hosts here refuse
 * connections at once (127.0.0.1, closed ports), so commands that ask hosts report each as
 * unreachable (exit 5); local commands succeed or fail with the same shape.
 */
describe('every command prints the envelope with --json', () => {
  let site: string
  beforeAll(async () => {
    site = await makeSite({
      'inventory.yml': yaml(
        'defaults:',
        '  ssh_user: root',
        '  ssh_key: id_ed25519',
        'hosts:',
        '  h1:',
        '    address: 127.0.0.1',
        '    ssh_port: 1',
        '  h2:',
        '    address: 127.0.0.2',
        '    ssh_port: 1',
        'groups:',
        '  deploy: [h1]',
        '  control: [h1, h2]',
        '  compute: [h2]',
      ),
      'osctl.yml': (await readFile(join(REPO_ROOT, 'test/fixtures/sites/valid/osctl.yml'), 'utf8')).replace('registry: 10.213.0.2:4000', 'registry: 127.0.0.1:1'),
    })
    await writeFile(join(site, 'id_ed25519'), ssh2.utils.generateKeyPairSync('ed25519').private, {mode: 0o600})
    await writeFile(join(site, 'known_hosts'), '', {mode: 0o600})
    await chmod(join(site, 'passwords.yml'), 0o600)
    // Every secret the site needs (none falls back to a built-in value).
    expect((await runCli(['genpwd'], {env: {OSCTL_SITE: site}})).exitCode).toBe(0)
  }, 60_000)
  afterAll(async () => {
    if (site) await rm(site, {recursive: true, force: true})
    await rm(join(tmpdir(), `osctl-env-gen-${process.pid}`), {recursive: true, force: true})
  })

  const unreachable: string[][] = [
    ['bootstrap'],
    ['service', 'list'],
    ['service', 'status'],
    ['service', 'history', 'keystone'],
    ['service', 'logs', 'keystone'],
    ['service', 'rollback', 'keystone'],
    ['system', 'list'],
    ['system', 'status'],
    ['system', 'history', 'etcd'],
    ['system', 'rollback', 'etcd'],
    ['system', 'remove', 'etcd', '--yes'],
    ['image', 'prune'],
    ['deploy', '--dry-run'],
    ['prechecks'],
    ['pull'],
    ['service', 'stop', 'keystone'],
    ['service', 'start', 'keystone'],
    ['service', 'restart', 'keystone'],
    ['system', 'logs', 'etcd'],
    ['destroy', '--yes-i-really-really-mean-it'],
  ]
  const others: string[][] = [['deploy'], ['service', 'upgrade', 'keystone', '--tag', 't2'], ['system', 'upgrade', 'etcd', '--tag', 't2'], ['genpwd'], ['post-deploy'], ['lab', 'status', '--name', 'no-such-lab'], ['lab', 'up', '--hosts', '0'], ['lab', 'down', '--name', 'no-such-lab'], ['image', 'list', '--images-dir', '/nonexistent'], ['image', 'build', 'no-such-image'], ['host', 'add', 'h1', '--address', '10.9.9.9', '--group', 'compute'], ['host', 'remove', 'h2'], ['site', 'import', '--from-kolla', '/nonexistent', '--site', '/nonexistent/out'], ['config', 'validate'], ['config', 'generate', '--out', join(tmpdir(), `osctl-env-gen-${process.pid}`)], ['destroy'], ['mariadb', 'backup'], ['mariadb', 'restore', '/nonexistent.sql'], ['certificates']]

  const check = (argv: string[], r: {exitCode: number; stdout: string; stderr: string}) => {
    const name = argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')
    let doc: Envelope
    try {
      doc = JSON.parse(r.stdout)
    } catch {
      throw new Error(`${argv.join(' ')}: stdout is not one JSON document:\n${r.stdout}\n${r.stderr}`)
    }
    expect(doc.command, argv.join(' ')).toBe(['lab', 'image', 'service', 'system', 'config', 'host', 'site', 'mariadb'].some((t) => name.startsWith(t)) ? name : argv[0])
    expect(doc.exitCode, argv.join(' ')).toBe(r.exitCode)
    expect(doc.ok, argv.join(' ')).toBe(r.exitCode === 0)
    expect(Array.isArray(doc.hosts), argv.join(' ')).toBe(true)
    for (const h of doc.hosts) {
      expect(h, argv.join(' ')).toMatchObject({host: expect.any(String), ok: expect.any(Boolean), changed: expect.any(Boolean), exitCode: expect.any(Number)})
      if (!h.ok) expect(h.error, argv.join(' ')).toMatchObject({code: expect.any(String), message: expect.any(String)})
    }
    if (!doc.ok && doc.hosts.length === 0) expect(doc.error, argv.join(' ')).toMatchObject({code: expect.any(String), message: expect.any(String), exitCode: r.exitCode})
    expect(r.stderr, argv.join(' ')).not.toMatch(/\n\s+at /)
    return doc
  }

  it('commands that ask hosts: exit 5, every host unreachable in one form', async () => {
    for (let i = 0; i < unreachable.length; i += 4) {
      const batch = unreachable.slice(i, i + 4)
      const results = await Promise.all(batch.map((argv) => runCli([...argv, '--json'], {env: {OSCTL_SITE: site}, timeoutMs: 60_000})))
      for (const [j, r] of results.entries()) {
        const doc = check(batch[j], r)
        expect(r.exitCode, `${batch[j].join(' ')}: ${r.stdout}`).toBe(5)
        // Reads and per-host changes list every host; rollbacks check every host first and stop at the first that cannot be asked.
        if (!batch[j].includes('rollback')) expect(doc.hosts.map((h) => h.host), batch[j].join(' ')).toEqual(['h1', 'h2'])
        for (const h of doc.hosts) expect(h, batch[j].join(' ')).toMatchObject({ok: false, exitCode: 5, error: {code: 'HOST_UNREACHABLE'}})
      }
    }
  }, 240_000)

  it('the other commands print the same shape, success or failure', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'osctl-env-'))
    try {
      for (let i = 0; i < others.length; i += 4) {
        const batch = others.slice(i, i + 4)
        const results = await Promise.all(batch.map((argv) => runCli([...argv, '--json'], {env: {OSCTL_SITE: site, HOME: scratch}, timeoutMs: 60_000})))
        for (const [j, r] of results.entries()) check(batch[j], r)
      }
    } finally {
      await rm(scratch, {recursive: true, force: true})
    }
  }, 240_000)
})
