import {chmod, mkdir, readFile, readdir, rm, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {bootstrap} from '../../../src/bootstrap/bootstrap.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {checkOverrides} from '../../../src/catalog/override-checks.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {OsctlError, OsctlErrors} from '../../../src/errors.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {renderConfig, renderInventory} from '../../../src/lab/site-files.js'
import {generatePasswords} from '../../../src/site/genpwd.js'
import {loadSite} from '../../../src/site/load-site.js'
import {requiredSecrets} from '../../../src/site/secrets.js'
import {PASSWORDS as ALL_PASSWORDS, testSite} from '../../fakes/site.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {REPO_ROOT} from '../../helpers/cli.js'
import {makeSite, yaml} from '../../fixtures/sites/make-site.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

/** A site whose host-facing checks pass (key file present, passwords.yml 0600), with some files replaced. */
async function hostSite(files: Record<string, string | null> = {}): Promise<string> {
  const dir = await makeSite({
    'inventory.yml': yaml('defaults:', '  ssh_key: id_ed25519', 'hosts:', '  lab-1:', '    address: 192.0.2.1', '  lab-2:', '    address: 192.0.2.2', 'groups:', '  deploy: [lab-1]', '  control: [lab-1]', '  compute: [lab-2]'),
    ...files,
  })
  dirs.push(dir)
  await writeFile(join(dir, 'id_ed25519'), 'not read by the checks\n', {mode: 0o600})
  await chmod(join(dir, 'passwords.yml'), 0o600).catch(() => undefined)
  return dir
}

async function problems(dir: string, opts = {forHosts: true}): Promise<OsctlError[]> {
  const err = await loadSite(dir, opts).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(OsctlErrors)
  return (err as OsctlErrors).errors
}

const at = (e: OsctlError) => e.location?.replace(/^.*\//, '')

describe('inventory gaps that used to reach hosts', () => {
  it('two hosts with one address: reported at the second address, naming the first', async () => {
    const dir = await hostSite({'inventory.yml': yaml('hosts:', '  lab-1: {address: node1.example.org}', '  lab-2:', '    address: Node1.Example.org.', 'groups:', '  deploy: [lab-1]', '  control: [lab-1, lab-2]')})
    const [e, ...rest] = await problems(dir)
    expect(rest).toEqual([])
    expect(e.message).toBe('hosts lab-1 and lab-2 have the same address Node1.Example.org. (lab-1 at line 2)')
    expect(at(e)).toBe('inventory.yml:4:14')
  })

  it('a misspelt group (contorl) when control is missing: did you mean control?', async () => {
    const dir = await hostSite({'inventory.yml': yaml('hosts:', '  lab-1: {address: 192.0.2.1}', 'groups:', '  deploy: [lab-1]', '  contorl: [lab-1]')})
    const errors = await problems(dir)
    expect(errors.map((e) => [e.message, at(e)])).toEqual([
      ['group contorl is not a group osctl knows, and control is missing: did you mean control?', 'inventory.yml:5:3'],
    ])
    // A custom group next to a real one is not a typo.
    const ok = await hostSite({'inventory.yml': yaml('hosts:', '  lab-1: {address: 192.0.2.1}', 'groups:', '  deploy: [lab-1]', '  control: [lab-1]', '  compute: [lab-1]', '  compute2: [lab-1]')})
    await expect(loadSite(ok, {forHosts: true})).resolves.toBeDefined()
  })

  it('empty deploy and control groups, at their lines, naming the services that need them', async () => {
    const dir = await hostSite({'inventory.yml': yaml('hosts:', '  lab-1: {address: 192.0.2.1}', 'groups:', '  deploy: []', '  control:', '  compute: [lab-1]')})
    const errors = await problems(dir)
    expect(errors.map((e) => [e.message.replace(/: etcd,.*/, ': etcd, …'), at(e)])).toEqual([
      ['group deploy is empty: it must list exactly one host', 'inventory.yml:4:3'],
      ['group control is empty, but enabled services run on it: etcd, …', 'inventory.yml:5:3'],
    ])
    expect(errors[1].message).toContain('keystone')
    expect(errors[1].message).toContain('neutron-agents, neutron-linuxbridge-agent')
    // Without the host-facing checks (genpwd, lab) the same inventory loads.
    await expect(loadSite(dir)).resolves.toBeDefined()
  })

  it('a missing SSH key file, at the ssh_key line it comes from (once for a defaults key)', async () => {
    const dir = await hostSite({
      'inventory.yml': yaml('defaults:', '  ssh_key: keys/missing', 'hosts:', '  lab-1: {address: 192.0.2.1}', '  lab-2: {address: 192.0.2.2}', '  lab-3: {address: 192.0.2.3, ssh_key: /nonexistent/key}', 'groups:', '  deploy: [lab-1]', '  control: [lab-1]', '  compute: [lab-2, lab-3]'),
    })
    const errors = await problems(dir)
    expect(errors.map((e) => [e.message, at(e)])).toEqual([
      [`SSH key file ${join(dir, 'keys/missing')} does not exist (used for lab-1, lab-2)`, 'inventory.yml:2:12'],
      ['SSH key file /nonexistent/key does not exist (used for lab-3)', 'inventory.yml:6:40'],
    ])
    expect(errors[0].hint).toContain('ssh_key')
  })

  it('passwords.yml readable by others is refused (chmod 600 in the hint)', async () => {
    const dir = await hostSite()
    await chmod(join(dir, 'passwords.yml'), 0o644)
    const [e] = await problems(dir)
    expect(e.message).toBe(`${join(dir, 'passwords.yml')} is not private (mode 0644): other users can read or change the site's secrets`)
    expect(e.hint).toContain(`chmod 600 ${join(dir, 'passwords.yml')}`)
    await chmod(join(dir, 'passwords.yml'), 0o600)
    await expect(loadSite(dir, {forHosts: true})).resolves.toBeDefined()
  })
})

describe('what lab up writes passes the host-facing checks', () => {
  it.each([1, 2, 5])('a lab of %i host(s)', async (n) => {
    const dir = await makeSite({'passwords.yml': null})
    dirs.push(dir)
    const spec = {lab: 'lab', hosts: Array.from({length: n}, (_, i) => ({name: `lab-${i + 1}`, address: `10.213.4.${11 + i}`})), control: n >= 3 ? 3 : 1}
    await writeFile(join(dir, 'osctl.yml'), renderConfig(undefined, spec))
    await writeFile(join(dir, 'inventory.yml'), renderInventory(undefined, spec))
    await writeFile(join(dir, 'id_ed25519'), 'key\n', {mode: 0o600})
    await generatePasswords(join(dir, 'passwords.yml'))
    await expect(loadSite(dir, {forHosts: true})).resolves.toMatchObject({hosts: expect.any(Array)})
  })
})

describe('YAML the parser accepts but toJS() rejected without a location', () => {
  it('an unknown alias, at the alias', async () => {
    const dir = await hostSite({'osctl.yml': yaml('registry: 192.0.2.1:4000', 'namespace: *ns')})
    const [e] = await problems(dir)
    expect(e.message).toBe('unknown alias *ns: no anchor &ns before it')
    expect(at(e)).toBe('osctl.yml:2:12')
  })

  it('an alias bomb, at the first alias, quickly', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)]
    const dir = await hostSite({'osctl.yml': yaml('registry: 192.0.2.1:4000', ...bomb)})
    const started = Date.now()
    const [e] = await problems(dir)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(e.message).toMatch(/^YAML aliases expand too far/)
    expect(at(e)).toBe('osctl.yml:3:8')
  })
})

describe('passwords: never echoed, typos at their line', () => {
  it('a misspelt key is reported once, at its line; deploy does not report it per service', async () => {
    const dir = await hostSite({'passwords.yml': yaml('keystone_admin_password: x', 'keystone_databse_password: secret-typed-once')})
    const errors = await problems(dir, {forHosts: false})
    expect(errors.map((e) => [e.message, at(e)])).toEqual([
      ['password keystone_databse_password is not one osctl uses, and keystone_database_password is missing: did you mean keystone_database_password?', 'passwords.yml:2:1'],
    ])
    expect(JSON.stringify(errors.map((e) => e.toJSON()))).not.toContain('secret-typed-once')
  })

  it('a missing password is one error naming every service that needs it', async () => {
    const site = testSite()
    delete site.passwords.database_password
    const err = (await Promise.resolve().then(async () => planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {targets: site.hosts})).catch((e: unknown) => e)) as OsctlErrors
    const missing = err.errors.filter((e) => e.message.includes('database_password is missing'))
    expect(missing).toHaveLength(1)
    expect(missing[0].message).toMatch(/^password database_password is missing from passwords\.yml \(needed by mariadb/)
  })

  it('a dependency missing from enabled_services points at the site line, not at templates/', async () => {
    const dir = await hostSite({'osctl.yml': yaml('registry: 192.0.2.1:4000', 'enabled_services:', '  - etcd', '  - registry', '  - memcached', '  - keystone')})
    const site = await loadSite(dir, {forHosts: true})
    site.passwords = {...ALL_PASSWORDS}
    const err = (await Promise.resolve().then(async () => planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {targets: site.hosts})).catch((e: unknown) => e)) as OsctlErrors
    const [e] = err.errors
    expect(e.message).toBe('service keystone depends on mariadb, which is not in enabled_services')
    expect(at(e)).toBe('osctl.yml:6:5')
    expect(e.hint).toContain('templates/keystone/service.yml')
  })
})

describe('no secret falls back to a built-in value', () => {
  it('src/ has no `passwords.x ?? default` (the etcd token and registry secret used to)', async () => {
    const offenders: string[] = []
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, {withFileTypes: true})) {
        const p = join(d, e.name)
        if (e.isDirectory()) await walk(p)
        else if (p.endsWith('.ts')) {
          const text = await readFile(p, 'utf8')
          for (const [i, line] of text.split('\n').entries()) if (/passwords(\.\w+|\[[^\]]+\])\s*(\?\?|\|\|)/.test(line)) offenders.push(`${p}:${i + 1}`)
        }
      }
    }
    await walk(join(REPO_ROOT, 'src'))
    expect(offenders).toEqual([])
  })

  it('bootstrap refuses a site without the etcd token before connecting to any host', async () => {
    const site = testSite({}, Object.fromEntries(Object.entries(ALL_PASSWORDS).filter(([k]) => k !== 'etcd_cluster_token')))
    let connected = false
    const err = await bootstrap(site, site.hosts, {
      connect: () => ((connected = true), []),
      localImages: async () => ({}),
      publish: async () => undefined,
      archive: async () => {
        throw new Error('not reached')
      },
    }, {emit: () => undefined}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OsctlErrors)
    expect((err as OsctlErrors).exitCode).toBe(2)
    expect((err as OsctlErrors).errors[0].message).toBe('password etcd_cluster_token is missing from passwords.yml (needed by etcd)')
    expect(connected).toBe(false)
  })

  it('bootstrap where every host fails its prechecks builds no image', async () => {
    const site = testSite()
    const hosts = site.hosts.map((h) =>
      new FakeHost(h.name, h.address)
        .on(/^systemctl show/, () => 'ActiveState=inactive\n')
        .on(/cat \/proc\/1\/comm/, () => 'init\n---\ncgroup2fs\n3\n---\n/dev/sda1 100 1 99999999 1% /var/lib\n---\n'),
    )
    let built = false
    const result = await bootstrap(site, site.hosts, {
      connect: () => hosts,
      localImages: async () => ((built = true), {}),
      publish: async () => undefined,
      archive: async () => {
        throw new Error('not reached')
      },
    }, {emit: () => undefined})
    expect(result.hosts.map((h) => [h.host, h.ok, h.error?.message])).toEqual(site.hosts.map((h) => [h.name, false, expect.stringContaining('systemd is PID 1')]))
    expect(built).toBe(false)
  })
})

describe('overrides that would apply to nothing or read outside the site', () => {
  async function overridesOf(files: Record<string, string>, links: Record<string, string> = {}): Promise<OsctlError[]> {
    const dir = await hostSite()
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(dir, 'overrides', rel, '..'), {recursive: true})
      await writeFile(join(dir, 'overrides', rel), text)
    }
    for (const [rel, target] of Object.entries(links)) {
      await mkdir(join(dir, 'overrides', rel, '..'), {recursive: true})
      await symlink(target, join(dir, 'overrides', rel))
    }
    const site = await loadSite(dir, {forHosts: true})
    try {
      return checkOverrides(await Overrides.load(site.overridesDir), site, await loadCatalog(TEMPLATES_DIR))
    } catch (err) {
      return (err as OsctlErrors).errors
    }
  }

  it('unknown service, host and file, each with the right name', async () => {
    const errors = await overridesOf({
      'keystnoe/keystone.conf': '[DEFAULT]\ndebug = true\n',
      'keystone/lab-9/keystone.conf': '[DEFAULT]\n',
      'keystone/keystone.cnf': '[DEFAULT]\n',
      'glance.conf': '[DEFAULT]\n',
      'keystone/lab-1/keystone.conf': '[DEFAULT]\ndebug = true\n',
    })
    expect(errors.map((e) => [at(e), e.message, e.hint])).toEqual([
      ['glance.conf', 'overrides/glance.conf would apply to nothing: glance renders no glance.conf', expect.stringContaining('glance-api.conf')],
      ['keystone.conf', 'overrides/keystnoe/keystone.conf is for unknown service keystnoe', expect.stringMatching(/^did you mean keystone\?/)],
      ['keystone.cnf', 'overrides/keystone/keystone.cnf would apply to nothing: keystone renders no keystone.cnf', 'did you mean keystone.conf?'],
      ['keystone.conf', 'overrides/keystone/lab-9/keystone.conf is for unknown host lab-9', 'did you mean lab-1?'],
    ])
  })

  it('lines that are not INI, at file:line, without echoing them', async () => {
    const errors = await overridesOf({'keystone/keystone.conf': '[DEFAULT]\ndebug = true\npassword: hunter2\nthis is prose\n  indented = ok\n'})
    expect(errors.map((e) => at(e))).toEqual(['keystone.conf:3', 'keystone.conf:4'])
    expect(JSON.stringify(errors.map((e) => e.toJSON()))).not.toContain('hunter2')
  })

  it('symbolic links (path traversal), devices and files too big are refused', async () => {
    const errors = await overridesOf({'keystone/big.conf': `[DEFAULT]\n${'x = 1\n'.repeat(300_000)}`}, {'keystone/keystone.conf': '/etc/passwd', 'nova/nova.conf': '../../../../etc/shadow', 'glance/glance-api.conf': '/dev/zero'})
    expect(errors.map((e) => e.message.replace(/^\S*?\/overrides\//, 'overrides/'))).toEqual([
      'overrides/glance/glance-api.conf is a symbolic link; osctl does not follow links in overrides/',
      'overrides/keystone/big.conf is too big (1.7 MiB; at most 1.0 MiB)',
      'overrides/keystone/keystone.conf is a symbolic link; osctl does not follow links in overrides/',
      'overrides/nova/nova.conf is a symbolic link; osctl does not follow links in overrides/',
    ])
  })
})

describe('genpwd and deploy agree on passwords.yml', () => {
  it('fills every empty value, kolla style, and refuses nested *_ssh_key maps at their line', async () => {
    const dir = await hostSite({'passwords.yml': yaml('keystone_admin_password:', "docker_registry_password: ''", 'nova_ssh_key:', '  private_key: -----BEGIN KEY-----', '  public_key: ssh-ed25519 AAAA')})
    const err = (await generatePasswords(join(dir, 'passwords.yml')).catch((e: unknown) => e)) as OsctlErrors
    expect(err).toBeInstanceOf(OsctlErrors)
    expect(err.errors.map((e) => [e.message, at(e)])).toEqual([['nova_ssh_key must be a string, not a mapping', 'passwords.yml:4:3']])
    expect(JSON.stringify(err.toJSON())).not.toContain('BEGIN KEY')

    await writeFile(join(dir, 'passwords.yml'), yaml('keystone_admin_password:', "docker_registry_password: ''", 'kept: "1"'))
    const {added} = await generatePasswords(join(dir, 'passwords.yml'))
    expect(added).toEqual(expect.arrayContaining(['keystone_admin_password', 'docker_registry_password']))
    expect(added).toHaveLength(requiredSecrets().length + 1)
    // What genpwd accepted and wrote, deploy's loader accepts.
    await expect(loadSite(dir, {forHosts: true})).resolves.toMatchObject({passwords: expect.objectContaining({kept: '1'})})
  })
})
