import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {ExitCode, OsctlError, OsctlErrors} from '../../../src/errors.js'
import {loadSite} from '../../../src/site/load-site.js'
import {makeSite, yaml} from '../../fixtures/sites/make-site.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

/** Loads a site that must be invalid and returns every reported problem. */
async function problems(files: Record<string, string | null>): Promise<OsctlError[]> {
  const dir = await makeSite(files)
  dirs.push(dir)
  const err = await loadSite(dir).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OsctlErrors)
  return (err as OsctlErrors).errors
}

/** The one problem reported, checked for code, file:line and that it carries a hint. */
function only(errors: OsctlError[], code = 'CONFIG_INVALID'): OsctlError {
  expect(errors.map((e) => e.headline)).toHaveLength(1)
  const [e] = errors
  expect(e.code).toBe(code)
  expect(e.hint).toBeTruthy()
  return e
}

const HOSTS = yaml('hosts:', '  lab-1:', '    address: 10.213.0.2')

describe('site validation errors', () => {
  it('reports a YAML syntax error with its line and column', async () => {
    const e = only(await problems({'osctl.yml': yaml('registry: 10.0.0.1:4000', 'enabled_services: [etcd, nova', 'namespace: x')}))
    expect(e.message).toMatch(/^YAML syntax error: /)
    expect(e.location).toMatch(/osctl\.yml:3:1$/)
  })

  it('names an unknown key and suggests the nearest known one', async () => {
    const inv = yaml('hosts:', '  lab-1:', '    address: 10.213.0.2', '    ssh_prot: 22', 'groups:', '  control: [lab-1]')
    const e = only(await problems({'inventory.yml': inv}))
    expect(e.message).toBe('unknown key ssh_prot in hosts.lab-1')
    expect(e.location).toMatch(/inventory\.yml:4:5$/)
    expect(e.hint).toMatch(/^did you mean ssh_port\?/)
  })

  it('lists the known keys when an unknown key is nothing like them', async () => {
    const e = only(await problems({'osctl.yml': yaml('registry: 10.0.0.1:4000', 'flavour: large')}))
    expect(e.message).toBe('unknown key flavour')
    expect(e.location).toMatch(/osctl\.yml:2:1$/)
    expect(e.hint).toContain('known keys here: openstack_release')
  })

  it('reports a duplicate host with the line it was first defined on', async () => {
    const inv = yaml('hosts:', '  lab-1:', '    address: 10.213.0.2', '  lab-1:', '    address: 10.213.0.3', 'groups:', '  control: [lab-1]')
    const e = only(await problems({'inventory.yml': inv}))
    expect(e.message).toBe('duplicate host lab-1 (first defined at line 2)')
    expect(e.location).toMatch(/inventory\.yml:4:3$/)
  })

  it('reports duplicate keys in osctl.yml too', async () => {
    const e = only(await problems({'osctl.yml': yaml('registry: 10.0.0.1:4000', 'namespace: a', 'namespace: b')}))
    expect(e.message).toBe('duplicate key namespace (first defined at line 2)')
    expect(e.location).toMatch(/osctl\.yml:3:1$/)
  })

  it('reports a host in no group at the host, and a group naming an unknown host at the entry', async () => {
    const inv = yaml('hosts:', '  lab-1:', '    address: 10.213.0.2', '  lab-2:', '    address: 10.213.0.3', 'groups:', '  control:', '    - lab-1', '    - lab-22')
    const errors = await problems({'inventory.yml': inv})
    expect(errors.map((e) => [e.message, e.location?.replace(/^.*\//, '')])).toEqual([
      ['host lab-2 is in no group', 'inventory.yml:4:3'],
      ['group control names unknown host lab-22', 'inventory.yml:9:7'],
    ])
    expect(errors[1].hint).toBe('did you mean lab-2?')
    expect(errors[0].hint).toContain('control: [lab-2]')
  })

  it('reports a missing address at the host, and an empty one at its key', async () => {
    const inv = yaml('hosts:', '  lab-1:', '    ssh_user: root', '  lab-2:', '  lab-3:', '    address:', 'groups:', '  control: [lab-1, lab-2, lab-3]')
    const errors = await problems({'inventory.yml': inv})
    expect(errors.map((e) => [e.message, e.location?.replace(/^.*\//, '')])).toEqual([
      ['hosts.lab-1.address is required', 'inventory.yml:2:3'],
      ['hosts.lab-2.address is required', 'inventory.yml:4:3'],
      ['hosts.lab-3.address has no value', 'inventory.yml:6:13'],
    ])
    expect(errors[0].hint).toContain('address: 10.213.0.2')
  })

  it('rejects an address that is neither an IP literal nor a DNS name', async () => {
    const inv = yaml('hosts:', '  lab-1:', '    address: 10.213.0.256', 'groups:', '  control: [lab-1]')
    const e = only(await problems({'inventory.yml': inv}))
    expect(e.message).toBe('hosts.lab-1.address must be an IPv4/IPv6 address or a DNS name, not "10.213.0.256"')
    expect(e.location).toMatch(/inventory\.yml:3:14$/)
  })

  it.each([
    ['0', 'hosts.lab-1.ssh_port must be at least 1, not 0'],
    ['65536', 'hosts.lab-1.ssh_port must be at most 65535, not 65536'],
    ['22.5', 'hosts.lab-1.ssh_port must be an integer between 1 and 65535, not 22.5'],
    ['"22"', 'hosts.lab-1.ssh_port must be an integer between 1 and 65535, not "22"'],
  ])('rejects ssh_port %s', async (port, message) => {
    const inv = yaml('hosts:', '  lab-1:', '    address: 10.213.0.2', `    ssh_port: ${port}`, 'groups:', '  control: [lab-1]')
    const e = only(await problems({'inventory.yml': inv}))
    expect(e.message).toBe(message)
    expect(e.location).toMatch(/inventory\.yml:4:15$/)
    expect(e.hint).toContain('between 1 and 65535')
  })

  it('maps wrong types in osctl.yml to the offending line, reported top to bottom', async () => {
    const cfg = yaml('registry: 10.0.0.1:4000', 'ssh_concurrency: many', 'ssh_host_key_policy: acept-new', 'enabled_services: nova', 'apt_mirror: ftp://x', 'image_pull_concurrency: 0')
    const errors = await problems({'osctl.yml': cfg})
    expect(errors.map((e) => [e.message, e.location?.replace(/^.*\//, '')])).toEqual([
      ['ssh_concurrency must be an integer between 1 and 256, not "many"', 'osctl.yml:2:18'],
      ['ssh_host_key_policy must be one of strict, accept-new, not "acept-new"', 'osctl.yml:3:22'],
      ['enabled_services must be a list of service names, not "nova"', 'osctl.yml:4:19'],
      ['apt_mirror must be an http:// or https:// URL, not "ftp://x"', 'osctl.yml:5:13'],
      ['image_pull_concurrency must be at least 1, not 0', 'osctl.yml:6:25'],
    ])
    expect(errors.at(-1)?.hint).toContain('image_pull_concurrency: 3')
    expect(errors.find((e) => e.message.startsWith('ssh_host_key_policy'))?.hint).toBe('did you mean accept-new?')
  })

  it('points at the list entry for an unknown service', async () => {
    const e = only(await problems({'osctl.yml': yaml('registry: 10.0.0.1:4000', 'enabled_services:', '  - keystone', '  - nvoa')}))
    expect(e.message).toMatch(/^enabled_services\.1 must be one of etcd, .*nova.*, not "nvoa"$/)
    expect(e.location).toMatch(/osctl\.yml:4:5$/)
    expect(e.hint).toBe('did you mean nova?')
  })

  it('requires registry as host:port', async () => {
    expect(only(await problems({'osctl.yml': yaml('namespace: osctl')})).message).toBe('registry is required')
    const e = only(await problems({'osctl.yml': yaml('namespace: osctl', 'registry: 10.0.0.1')}))
    expect(e.message).toBe('registry must be HOST:PORT, not "10.0.0.1"')
    expect(e.location).toMatch(/osctl\.yml:2:11$/)
    expect(e.hint).toContain('10.213.0.2:4000')
  })

  it.each([
    ['an empty file', '', /osctl\.yml is empty$/],
    ['a comment-only file', '# todo\n', /osctl\.yml is empty$/],
    ['a list', yaml('- registry: x'), /must be a mapping \(key: value lines\), found a list$/],
    ['a scalar', yaml('hello'), /must be a mapping \(key: value lines\), found a single value$/],
  ])('rejects %s as osctl.yml', async (_what, content, message) => {
    const e = only(await problems({'osctl.yml': content}))
    expect(e.message).toMatch(message)
    expect(e.location).toMatch(/osctl\.yml:1:1$/)
  })

  it('reports missing osctl.yml and inventory.yml together as CONFIG_MISSING with exit code 2', async () => {
    const errors = await problems({'osctl.yml': null, 'inventory.yml': null})
    expect(errors.map((e) => [e.code, e.location?.replace(/^.*\//, '')])).toEqual([
      ['CONFIG_MISSING', 'osctl.yml'],
      ['CONFIG_MISSING', 'inventory.yml'],
    ])
    expect(errors[0].exitCode).toBe(ExitCode.USAGE)
    expect(errors[0].hint).toBe('run `osctl lab up` to create a lab site, or create it (see README)')
  })

  it('reports a site directory that does not exist', async () => {
    const base = await mkdtemp(join(tmpdir(), 'osctl-nosite-'))
    dirs.push(base)
    const err = await loadSite(join(base, 'nope')).catch((e: OsctlErrors) => e)
    expect(err).toBeInstanceOf(OsctlErrors)
    expect((err as OsctlErrors).errors[0]).toMatchObject({code: 'CONFIG_MISSING', location: join(base, 'nope')})
  })

  it('collects problems from every file in one go', async () => {
    const errors = await problems({
      'osctl.yml': yaml('registry: 10.0.0.1:4000', 'ssh_concurrency: 0'),
      'inventory.yml': yaml('hosts:', '  lab-1:', '    address: 10.213.0.2', '    ssh_port: 0'),
      'passwords.yml': yaml('database_password: 12345'),
    })
    expect(errors.map((e) => e.location?.replace(/^.*\//, ''))).toEqual(['osctl.yml:2:18', 'inventory.yml:2:3', 'inventory.yml:4:15', 'passwords.yml:1:20'])
    expect(errors[1].message).toBe('host lab-1 is in no group')
    // A password is never echoed, not even a wrongly typed one: it may still be the real secret.
    expect(errors[3].message).toBe('database_password must be a string, not a number')
    expect(JSON.stringify(errors.map((e) => e.toJSON()))).not.toContain('12345')
    expect(errors[3].hint).toContain('quote values')
  })

  it('rejects two deploy hosts and a group named like a host', async () => {
    const inv = yaml(HOSTS.trimEnd(), '  lab-2:', '    address: 10.213.0.3', 'groups:', '  deploy: [lab-1, lab-2]', '  lab-1: [lab-1]')
    const errors = await problems({'inventory.yml': inv})
    expect(errors.map((e) => [e.message, e.location?.replace(/^.*\//, '')])).toEqual([
      ['group deploy lists 2 hosts; it must list exactly one', 'inventory.yml:7:11'],
      ['group lab-1 has the same name as a host', 'inventory.yml:8:3'],
    ])
  })

  it('gives a CLI-ready message: no stack, file:line first', async () => {
    const dir = await makeSite({'inventory.yml': yaml('hosts:', '  lab-1:', '    address: 10.213.0.2')})
    dirs.push(dir)
    await writeFile(join(dir, 'unused'), '')
    const err = (await loadSite(dir).catch((e: OsctlErrors) => e)) as OsctlErrors
    expect(err.headline).toBe(`${join(dir, 'inventory.yml')}:2:3: host lab-1 is in no group`)
  })
})

describe('more inventory shapes', () => {
  it('rejects a host name that cannot be used in unit or container names, at its key', async () => {
    const inv = yaml('hosts:', '  lab-1:', '    address: 10.213.0.2', '  "bad name":', '    address: 10.213.0.3', 'groups:', '  control: [lab-1, bad name]')
    const errors = await problems({'inventory.yml': inv})
    const e = errors.find((x) => x.message.startsWith('hosts.bad name'))
    expect(e?.message).toBe('hosts.bad name: the name "bad name" must start with a letter or digit and contain only letters, digits, _ . -')
    expect(e?.location).toMatch(/inventory\.yml:4:3$/)
  })

  it('suggests the known key for a typo under defaults, and treats an empty group as empty', async () => {
    const inv = yaml('defaults:', '  ssh_usr: admin', 'hosts:', '  lab-1:', '    address: 10.213.0.2', 'groups:', '  control: [lab-1]', '  compute:')
    const e = only(await problems({'inventory.yml': inv}))
    expect(e.message).toBe('unknown key ssh_usr in defaults')
    expect(e.location).toMatch(/inventory\.yml:2:3$/)
    expect(e.hint).toMatch(/^did you mean ssh_user\?/)
  })

  it('reports an empty hosts mapping', async () => {
    const e = only(await problems({'inventory.yml': yaml('hosts: {}', 'groups: {}')}))
    expect(e.message).toBe('inventory.yml lists no hosts')
    expect(e.location).toMatch(/inventory\.yml:1:1$/)
  })
})
