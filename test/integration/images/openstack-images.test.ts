import {execa} from 'execa'
import {chmod, mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../../helpers/cli.js'

// The OpenStack image tree (openstack-base, infra services, keystone, glance, placement, nova),
// built through the real CLI and each image started for real. Containers run on their own bridge
// network namespaces (keystone joins mariadb's), so nothing binds a port of the host.
const SKIP = process.env.OSCTL_SKIP_INTEGRATION === '1'
const TAG = `t${process.pid}`
const NO_SITE = '/nonexistent/osctl-openstack-images-test-site'
const BUILD_TIMEOUT = 1_800_000
const MOUNT = '/var/lib/osctl/config_files'
const IMAGES = [
  'openstack-base', 'mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance-api', 'placement-api',
  'nova-base', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute', 'nova-libvirt', 'neutron-server',
]
const ref = (name: string) => `localhost:4000/osctl/${name}:${TAG}`
const name = (what: string) => `osctl-it-os-${what}-${TAG}`

const docker = (args: string[], opts: {env?: Record<string, string>} = {}) => execa('docker', args, {reject: false, ...opts})

async function waitFor(what: string, container: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      const logs = await docker(['logs', '--tail', '30', container])
      throw new Error(`${what} not ready within ${timeoutMs / 1000}s; last logs of ${container}:\n${logs.stdout}\n${logs.stderr}`)
    }
    await sleep(1000)
  }
}

describe.skipIf(SKIP)('OpenStack images (real Docker)', () => {
  const containers: string[] = []
  const volumes: string[] = []
  let scratch: string

  /** A config dir as the host renders it: config.json plus the files it names, mounted read-only. */
  async function configDir(dir: string, manifest: object, files: Record<string, string> = {}): Promise<string> {
    const path = join(scratch, dir)
    await mkdir(path, {recursive: true})
    await writeFile(join(path, 'config.json'), JSON.stringify(manifest, null, 2))
    for (const [file, text] of Object.entries(files)) {
      await mkdir(join(path, file, '..'), {recursive: true})
      await writeFile(join(path, file), text)
    }
    return path
  }

  async function start(what: string, image: string, config: string, extra: string[] = []): Promise<string> {
    const c = name(what)
    containers.push(c)
    const r = await docker(['run', '-d', '--name', c, '--label', 'io.osctl.test=openstack-images', '-v', `${config}:${MOUNT}:ro`, ...extra, ref(image)])
    expect(r.exitCode, r.stderr).toBe(0)
    return c
  }

  beforeAll(async () => {
    // Fail loudly: a missing engine must not look like a pass.
    const r = await docker(['info', '--format', '{{.ServerVersion}}'])
    if (r.exitCode !== 0) throw new Error(`Docker is not available (set OSCTL_SKIP_INTEGRATION=1 to skip): ${r.stderr}`)
    scratch = await mkdtemp(join(tmpdir(), 'osctl-openstack-it-'))
    await chmod(scratch, 0o755)
  })

  afterAll(async () => {
    if (containers.length > 0) await docker(['rm', '-f', '-v', ...containers])
    if (volumes.length > 0) await docker(['volume', 'rm', '-f', ...volumes])
    // This run's tag only: colleagues' and the operator's images stay.
    const list = await docker(['images', '--filter', 'label=io.osctl.image', '--format', '{{.Repository}}:{{.Tag}}'])
    const mine = list.stdout.split('\n').filter((r) => r.endsWith(`:${TAG}`))
    if (mine.length > 0) await docker(['rmi', '-f', ...mine])
    if (scratch) await rm(scratch, {recursive: true, force: true})
  })

  it('builds the whole OpenStack tree, nova leaves on nova-base', async () => {
    const r = await runCli(['image', 'build', ...IMAGES, '--site', NO_SITE, '--tag', TAG, '--parallel', '3', '--json'], {timeoutMs: BUILD_TIMEOUT})
    expect(r.exitCode, r.stderr).toBe(0)
    const images = JSON.parse(r.stdout).images as Array<{name: string; status: string; parent: string | null}>
    // Content another lab of this run already built is tagged, not rebuilt (reused).
    expect(images.filter((i) => !['built', 'unchanged', 'reused'].includes(i.status))).toEqual([])
    const parents = Object.fromEntries(images.map((i) => [i.name, i.parent]))
    expect(parents).toMatchObject({
      'openstack-base': 'base', mariadb: 'base', keystone: 'openstack-base', 'nova-base': 'openstack-base',
      'nova-api': 'nova-base', 'nova-compute': 'nova-base', 'nova-conductor': 'nova-base', 'nova-scheduler': 'nova-base',
      'nova-libvirt': 'openstack-base',
    })
  })

  it('osctl_start installs files and dirs with owner and mode, applies permissions, execs as the user', async () => {
    const config = await configDir('start-ok', {
      command: "sh -c 'id -un; echo home=$HOME; stat -c \"%n %U:%G %a\" /etc/it/svc.conf /etc/it/conf.d /etc/it/conf.d/a.conf /var/log/it /var/log/it/old.log; cat /etc/it/svc.conf'",
      bootstrap_command: "sh -c 'echo bootstrap-ran-as-$(id -un)'",
      config_files: [
        {source: `${MOUNT}/svc.conf`, dest: '/etc/it/svc.conf', owner: 'keystone', perm: '0640'},
        {source: `${MOUNT}/conf.d`, dest: '/etc/it/conf.d', owner: 'keystone:nova', perm: '0600'},
        {source: `${MOUNT}/absent.conf`, dest: '/etc/it/absent.conf', owner: 'keystone', perm: '0600', optional: true},
      ],
      permissions: [{path: '/var/log/it', owner: 'keystone:keystone', recurse: true}],
      user: 'keystone',
    }, {'svc.conf': 'svc-config-body\n', 'conf.d/a.conf': 'a\n'})
    // A file already there before start, as a log volume would hold it: recurse must reach it.
    const run = (env: string[] = []) =>
      docker(['run', '--rm', '-v', `${config}:${MOUNT}:ro`, ...env, '--entrypoint', 'bash', ref('openstack-base'), '-c', 'mkdir -p /var/log/it && touch /var/log/it/old.log && exec dumb-init --single-child -- osctl_start'])
    const r = await run()
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout.split('\n')).toEqual([
      'keystone',
      'home=/var/lib/keystone',
      '/etc/it/svc.conf keystone:keystone 640',
      '/etc/it/conf.d keystone:nova 700', // a directory gets x wherever its mode gives r
      '/etc/it/conf.d/a.conf keystone:nova 600',
      '/var/log/it keystone:keystone 755',
      '/var/log/it/old.log keystone:keystone 644',
      'svc-config-body',
    ])
    const boot = await run(['-e', 'OSCTL_BOOTSTRAP=1'])
    expect(boot.exitCode, boot.stderr).toBe(0)
    expect(boot.stdout).toBe('bootstrap-ran-as-keystone')
  })

  it('osctl_start fails naming a missing non-optional file, and a missing manifest', async () => {
    const config = await configDir('start-missing', {
      command: 'true',
      config_files: [{source: `${MOUNT}/keystone.conf`, dest: '/etc/keystone/keystone.conf', owner: 'keystone', perm: '0640'}],
    })
    const r = await docker(['run', '--rm', '-v', `${config}:${MOUNT}:ro`, ref('openstack-base')])
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain(`osctl_start: config file ${MOUNT}/keystone.conf (for /etc/keystone/keystone.conf) is missing`)
    const none = await docker(['run', '--rm', ref('openstack-base')])
    expect(none.exitCode).toBe(1)
    expect(none.stderr).toContain(`${MOUNT}/config.json not found`)
  })

  it('health-check helpers: healthcheck_port sees a listener, healthcheck_curl fails on a closed port', async () => {
    const r = await docker(['run', '--rm', '--entrypoint', 'bash', ref('openstack-base'), '-c',
      'python3 -m http.server 18080 --bind 127.0.0.1 >/dev/null 2>&1 & for i in $(seq 50); do healthcheck_port 18080 && break; sleep 0.2; done; ' +
      'healthcheck_curl http://127.0.0.1:18080/ && ! healthcheck_port 18081 && ! healthcheck_curl http://127.0.0.1:18081/ && echo checks-ok'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toContain('200 http://127.0.0.1:18080/')
    expect(r.stdout).toContain('checks-ok')
  })

  it('mariadb initialises an empty datadir and answers mysqladmin ping', async () => {
    const config = await configDir('mariadb', {
      command: 'osctl-mariadb-start --bind-address=127.0.0.1 --port=3306',
      permissions: [{path: '/var/lib/mysql', owner: 'mysql:mysql', recurse: true}],
      user: 'mysql',
    })
    const c = await start('mariadb', 'mariadb', config, ['-e', 'MARIADB_ROOT_PASSWORD=it-root-pw'])
    await waitFor('mariadb', c, async () => (await docker(['exec', c, 'mysqladmin', 'ping'])).stdout.includes('mysqld is alive'), 60_000)
    // The password works over TCP (what other services use); root on the socket needs none.
    const q = await docker(['exec', c, 'mysql', '-uroot', '-pit-root-pw', '-h127.0.0.1', '-N', '-e', 'SELECT 40+2'])
    expect(q.stdout.trim(), q.stderr).toBe('42')
    expect((await docker(['exec', c, 'ps', '-o', 'user=', '-C', 'mariadbd'])).stdout.trim()).toBe('mysql')
  })

  it('memcached answers stats as user memcache', async () => {
    const config = await configDir('memcached', {command: 'memcached -u memcache -l 127.0.0.1 -p 11211 -v', user: 'memcache'})
    const c = await start('memcached', 'memcached', config)
    const stats = () => docker(['exec', c, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/11211 && printf "stats\\r\\nquit\\r\\n" >&3 && cat <&3'])
    await waitFor('memcached', c, async () => (await stats()).stdout.includes('STAT pid'), 30_000)
    expect((await docker(['exec', c, 'healthcheck_port', '11211'])).exitCode).toBe(0)
    expect((await docker(['exec', c, 'ps', '-o', 'user=', '-C', 'memcached'])).stdout.trim()).toBe('memcache')
  })

  it('rabbitmq starts with the rendered Erlang cookie and answers rabbitmq-diagnostics ping', async () => {
    const cookie = `itcookie${process.pid}`
    const config = await configDir('rabbitmq', {
      command: 'rabbitmq-server',
      config_files: [{source: `${MOUNT}/erlang.cookie`, dest: '/var/lib/rabbitmq/.erlang.cookie', owner: 'rabbitmq', perm: '0400'}],
      permissions: [{path: '/var/lib/rabbitmq', owner: 'rabbitmq:rabbitmq', recurse: true}],
      user: 'rabbitmq',
    }, {'erlang.cookie': cookie})
    const c = await start('rabbitmq', 'rabbitmq', config, ['--hostname', 'rmq-it'])
    await waitFor('rabbitmq', c, async () => (await docker(['exec', c, 'rabbitmq-diagnostics', '-q', 'ping'])).exitCode === 0, 60_000)
    // ping only says the Erlang node is up; the broker itself boots a few seconds later.
    await waitFor('rabbitmq broker', c, async () => (await docker(['exec', c, 'rabbitmq-diagnostics', '-q', 'check_running'])).exitCode === 0, 60_000)
    expect((await docker(['exec', c, 'cat', '/var/lib/rabbitmq/.erlang.cookie'])).stdout).toBe(cookie)
  })

  it('keystone: bootstrap container syncs the db, makes fernet keys and the admin; the service serves /v3 and issues a token', async () => {
    const db = name('mariadb')
    const sql = "CREATE DATABASE keystone; CREATE USER 'keystone'@'%' IDENTIFIED BY 'it-ks-pw'; GRANT ALL PRIVILEGES ON keystone.* TO 'keystone'@'%';"
    const created = await docker(['exec', db, 'mysql', '-e', sql])
    expect(created.exitCode, created.stderr).toBe(0)
    const url = 'http://127.0.0.1:5000/v3/'
    const config = await configDir('keystone', {
      command: 'uwsgi --ini /etc/keystone/keystone-uwsgi.ini',
      bootstrap_command:
        "bash -ec 'keystone-manage db_sync; keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone; " +
        'keystone-manage credential_setup --keystone-user keystone --keystone-group keystone; ' +
        `keystone-manage bootstrap --bootstrap-password it-admin-pw --bootstrap-admin-url ${url} --bootstrap-internal-url ${url} --bootstrap-public-url ${url} --bootstrap-region-id RegionOne'`,
      config_files: [{source: `${MOUNT}/keystone.conf`, dest: '/etc/keystone/keystone.conf', owner: 'keystone', perm: '0600'}],
      permissions: [{path: '/var/log/keystone', owner: 'keystone:keystone', recurse: true}],
      user: 'keystone',
    }, {
      'keystone.conf': '[DEFAULT]\nuse_stderr = true\n[database]\nconnection = mysql+pymysql://keystone:it-ks-pw@127.0.0.1:3306/keystone\n[token]\nprovider = fernet\n',
    })
    // Keys live in volumes: shared by the bootstrap and service containers (and by every keystone of a site).
    const keys = [name('ks-fernet'), name('ks-credential')]
    volumes.push(...keys)
    const mounts = ['-v', `${keys[0]}:/etc/keystone/fernet-keys`, '-v', `${keys[1]}:/etc/keystone/credential-keys`, '--network', `container:${db}`]
    const boot = await docker(['run', '--rm', '-e', 'OSCTL_BOOTSTRAP=1', '-v', `${config}:${MOUNT}:ro`, ...mounts, ref('keystone')])
    expect(boot.exitCode, boot.stderr.slice(-3000)).toBe(0)
    expect(boot.stderr).toContain('Created admin endpoint')

    const c = await start('keystone', 'keystone', config, mounts)
    await waitFor('keystone /v3', c, async () => (await docker(['exec', c, 'healthcheck_curl', url])).exitCode === 0, 60_000)
    const auth = ['--os-auth-url', url, '--os-identity-api-version', '3', '--os-username', 'admin', '--os-password', 'it-admin-pw',
      '--os-project-name', 'admin', '--os-user-domain-name', 'Default', '--os-project-domain-name', 'Default']
    const token = await docker(['exec', c, 'openstack', ...auth, 'token', 'issue', '-f', 'value', '-c', 'id'])
    expect(token.exitCode, token.stderr).toBe(0)
    expect(token.stdout.trim()).toMatch(/^gAAAAA/) // a fernet token
    const endpoints = await docker(['exec', c, 'openstack', ...auth, 'endpoint', 'list', '-f', 'value', '-c', 'Interface'])
    expect(endpoints.stdout.split('\n').sort()).toEqual(['admin', 'internal', 'public'])
    const uwsgi = (await docker(['exec', c, 'ps', '-eo', 'user=,args='])).stdout.split('\n').filter((l) => l.includes('uwsgi --ini'))
    expect(uwsgi.length).toBeGreaterThan(1) // master and workers
    expect(uwsgi.every((l) => l.startsWith('keystone '))).toBe(true)
  })

  it.each([
    ['keystone', 'keystone-manage --help >/dev/null && keystone-manage --version'],
    ['glance-api', 'glance-api --version && glance-manage --version'],
    ['placement-api', 'placement-manage --version && test -x /usr/bin/placement-api && python3 -c "import placement.wsgi"'],
    ['nova-api', 'nova-manage --version && test -x /usr/bin/nova-api-wsgi && nova-api --version'],
    ['nova-conductor', 'nova-conductor --version'],
    ['nova-scheduler', 'nova-scheduler --version'],
    // The libvirt driver's client side only: libvirtd and qemu are nova-libvirt's.
    ['nova-compute', 'nova-compute --version && python3 -c "import libvirt, nova.virt.libvirt.driver; from nova.virt.fake import FakeDriver" && qemu-img --version && ! dpkg -l | grep -E "^ii +(libvirt-daemon|qemu-system)"'],
    // The probe floppy is built in, its build tools are gone again.
    ['nova-libvirt', 'libvirtd --version && virtlogd --version && qemu-system-x86_64 --version && test -s /usr/share/osctl/osctl-kvm-probe.img && command -v osctl-virt-type osctl-libvirt-start osctl-libvirt-health && ! dpkg -l | grep -E "^ii +(syslinux|mtools|dosfstools|systemd) "'],
  ])('%s: its service binaries run', async (image, script) => {
    const r = await docker(['run', '--rm', '--entrypoint', 'bash', ref(image), '-c', script])
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0)
    expect(r.stdout).toMatch(/\d+\.\d+\.\d+/)
  })

  // What every host pulls: no Python test suite (but those an entry point names), and stubs stand
  // for the packages Debian's OpenStack packages depend on but no service runs, while the code that
  // depended on them still loads.
  it.each([
    ['keystone', 'python3-sphinx', 'python3 -c "import keystone.server.flask, saml2, repoze.who"'],
    ['glance-api', 'libxml2-dev', 'python3 -c "import pydot, lxml.etree, taskflow.engines, glance.async_.flows.api_image_import, glance_store.backend as b; from oslo_config import cfg; b.register_opts(cfg.CONF)"'],
    ['nova-api', 'python3-mypy', 'python3 -c "import nova.api.openstack.compute, nova.cmd.manage"'],
    ['neutron-server', 'dpkg-dev', 'python3 -c "import neutron.cmd.eventlet.server, neutron.plugins.ml2.plugin, neutron.db.migration.cli"'],
  ])('%s leaves out the test suites and the stubbed packages, and still loads', async (image, stubbed, load) => {
    // What the stubbed packages would have brought: perl (sphinx-common, dpkg-dev), headers (libxml2-dev),
    // graphviz's libraries, binutils (dpkg-dev).
    const broughtIn = 'perl sphinx-common libicu-dev libc6-dev linux-libc-dev libgvc6 libx265-199 binutils'
    const script = [
      'find /usr/lib/python3/dist-packages -type d -name tests -prune | sort',
      `dpkg-query -W -f '\${Version}\\n' ${stubbed}`,
      `{ dpkg-query -W -f '\${db:Status-Abbrev}\\n' ${broughtIn} 2>/dev/null | grep -c '^ii' || true; }`,
      load,
    ].join(' && ')
    const r = await docker(['run', '--rm', '--entrypoint', 'bash', ref(image), '-c', script])
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0)
    const lines = r.stdout.trim().split('\n')
    const kept = lines.filter((l) => l.startsWith('/'))
    // Only suites an entry point names are left (stevedore's own test plugins, glance_store's no_conf
    // store, castellan's, neutron's test drivers): keystone's, glance's and nova's are gone.
    const named = ['stevedore', 'castellan', 'glance_store', 'neutron'].map((p) => `/usr/lib/python3/dist-packages/${p}/tests`)
    expect(kept.filter((d) => !named.includes(d))).toEqual([])
    expect(lines).toContain('99:0+osctl.stub')
    expect(lines.at(-1)).toBe('0') // none of what they would have brought
  })
})
