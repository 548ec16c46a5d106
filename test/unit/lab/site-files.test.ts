import {readFileSync} from 'node:fs'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'
import {afterAll, describe, expect, it} from 'vitest'

import {checkLabSite} from '../../../src/lab/lab-site.js'
import {
  checkOwnership, defaultControl, generatedFor, labGroups, markerLine, renderConfig, renderInventory, renderKnownHosts,
} from '../../../src/lab/site-files.js'
import {generatePasswords} from '../../../src/site/genpwd.js'
import {loadSite} from '../../../src/site/load-site.js'

const hosts = (n: number) => Array.from({length: n}, (_, i) => ({name: `lab-${i + 1}`, address: `10.213.4.${11 + i}`}))
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5FyWhEp6EVV4bch+rWF20Xmj4jzRuTjhV1AV9Twn0u'

describe('lab group assignment', () => {
  it.each([
    [1, 1, ['lab-1'], ['lab-1']],
    [2, 1, ['lab-1'], ['lab-2']],
    [3, 3, ['lab-1', 'lab-2', 'lab-3'], ['lab-1']],
    [5, 3, ['lab-1', 'lab-2', 'lab-3'], ['lab-4', 'lab-5']],
    [5, 1, ['lab-1'], ['lab-2', 'lab-3', 'lab-4', 'lab-5']],
  ])('N=%i K=%i', (n, k, control, compute) => {
    expect(labGroups(hosts(n).map((h) => h.name), k)).toEqual({deploy: ['lab-1'], control, compute})
  })

  it('defaults to 1 controller up to 2 hosts, 3 above', () => {
    expect([1, 2, 3, 5].map(defaultControl)).toEqual([1, 1, 3, 3])
  })

  it('rejects --control outside 1..N naming the flag', () => {
    expect(() => labGroups(['lab-1', 'lab-2'], 3)).toThrow(/--control 3 must be between 1 and the number of hosts \(2\)/)
    expect(() => labGroups(['lab-1'], 0)).toThrow(/--control/)
  })
})

describe('lab site rendering', () => {
  const spec = {lab: 'lab', hosts: hosts(2), control: 1, cores: 4}

  it('renders osctl.yml with the marker first and the deploy host as registry', () => {
    const text = renderConfig(undefined, spec)
    expect(text.split('\n')[0]).toBe(markerLine('lab'))
    expect(generatedFor(text)).toBe('lab')
    expect(parse(text)).toEqual({
      openstack_release: 'zed',
      base_distro: 'debian',
      base_distro_release: 'bookworm',
      apt_mirror: 'http://deb.debian.org/debian',
      registry: '10.213.4.11:4000',
      namespace: 'osctl',
      image_tag: 'zed',
      network_interface: 'eth0',
      ssh_host_key_policy: 'strict',
      ssh_known_hosts: 'known_hosts',
      neutron_external_bridge: 'br-ex',
      external_network_cidr: '10.99.0.0/24',
      external_network_gateway: '10.99.0.1',
      external_network_range: '10.99.0.100-10.99.0.199',
      openstack_service_workers: 2,
      keystone_api_workers: 2,
    })
  })

  it('several hosts share the machine\'s cores: each API service gets its share of processes (at least 1); one host keeps the default', () => {
    const workers = (n: number, cores: number) => parse(renderConfig(undefined, {lab: 'lab', hosts: hosts(n), control: 1, cores})).openstack_service_workers
    expect([workers(2, 2), workers(4, 2), workers(3, 8), workers(1, 2)]).toEqual([1, 1, 2, undefined])
    // keystone at least 2: the other APIs' token checks must not queue a client's token request.
    expect(parse(renderConfig(undefined, {lab: 'lab', hosts: hosts(4), control: 3, cores: 2})).keystone_api_workers).toBe(2)
    expect(parse(renderConfig(undefined, {lab: 'lab', hosts: hosts(2), control: 1, cores: 8})).keystone_api_workers).toBe(4)
    // Lab-owned with several hosts: a re-run with more hosts lowers it, an operator's value is written over; on a one-host lab it stays.
    expect(parse(renderConfig(renderConfig(undefined, {lab: 'lab', hosts: hosts(3), control: 1, cores: 2}).replace('openstack_service_workers: 1', 'openstack_service_workers: 4'), {lab: 'lab', hosts: hosts(3), control: 1, cores: 2}))).toMatchObject({openstack_service_workers: 1, keystone_api_workers: 2})
    expect(parse(renderConfig(renderConfig(undefined, {lab: 'lab', hosts: hosts(2), control: 1, cores: 8}), {lab: 'lab', hosts: hosts(4), control: 1, cores: 8})).openstack_service_workers).toBe(2)
    expect(parse(renderConfig(renderConfig(undefined, {lab: 'lab', hosts: hosts(1), control: 1}) + 'openstack_service_workers: 3\n', {lab: 'lab', hosts: hosts(1), control: 1})).openstack_service_workers).toBe(3)
  })

  it('--vip writes internal_vip (the subnet\'s .250); without it an operator\'s internal_vip stays', () => {
    const text = renderConfig(undefined, {lab: 'lab', hosts: hosts(4), control: 3, vip: true})
    expect(parse(text).internal_vip).toBe('10.213.4.250')
    expect(parse(renderConfig(undefined, spec)).internal_vip).toBeUndefined()
    const edited = text.replace('internal_vip: 10.213.4.250', 'internal_vip: 10.213.4.240')
    expect(parse(renderConfig(edited, {lab: 'lab', hosts: hosts(4), control: 3})).internal_vip).toBe('10.213.4.240')
  })

  it('renders inventory.yml with defaults, hosts and groups', () => {
    expect(parse(renderInventory(undefined, spec))).toEqual({
      defaults: {ssh_user: 'root', ssh_port: 22, ssh_key: 'id_ed25519'},
      hosts: {'lab-1': {address: '10.213.4.11'}, 'lab-2': {address: '10.213.4.12'}},
      groups: {deploy: ['lab-1'], control: ['lab-1'], compute: ['lab-2']},
    })
  })

  it('a re-run rewrites only lab-owned keys and keeps the operator edits', () => {
    const edited = renderConfig(undefined, spec).replace('image_tag: zed', '# pinned for the demo\nimage_tag: "2"') + 'ssh_concurrency: 4\n'
    const moved = {...spec, hosts: spec.hosts.map((h) => ({...h, address: h.address.replace('.4.', '.9.')}))}
    const again = renderConfig(edited.replace('registry: 10.213.4.11:4000', 'registry: 1.1.1.1:1'), moved)
    expect(again).toContain('# pinned for the demo')
    expect(parse(again)).toMatchObject({image_tag: '2', ssh_concurrency: 4, registry: '10.213.9.11:4000'})
    expect(again.split('\n').filter((l) => l.startsWith('# generated by'))).toHaveLength(1)
  })

  it('keeps edited groups until the host set changes', () => {
    const first = renderInventory(undefined, spec).replace('compute: [lab-2]', 'compute: [lab-1, lab-2]')
    expect(parse(renderInventory(first, spec)).groups.compute).toEqual(['lab-1', 'lab-2'])
    expect(parse(renderInventory(first, {...spec, hosts: hosts(3)})).groups).toEqual({deploy: ['lab-1'], control: ['lab-1'], compute: ['lab-2', 'lab-3']})
    expect(parse(renderInventory(first, {...spec, regroup: true})).groups.compute).toEqual(['lab-2'])
  })

  it('known_hosts replaces lab addresses and keeps other lines', () => {
    const text = renderKnownHosts('10.213.4.11 ssh-ed25519 OLD\nother.example ssh-rsa AAAA\n', [{address: '10.213.4.11', key: `${KEY} root@lab-1`}])
    expect(text).toBe(`other.example ssh-rsa AAAA\n10.213.4.11 ${KEY}\n`)
  })
})

describe('foreign site files', () => {
  const dirs: string[] = []
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, {recursive: true, force: true}))))
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'osctl-lab-site-'))
    dirs.push(d)
    return d
  }

  it('refuses a file lab up did not write, or wrote for another lab, unless forced', () => {
    expect(checkOwnership('/s/osctl.yml', 'registry: a:1\n', 'lab', false)?.message).toMatch(/^osctl\.yml was not generated by `osctl lab up`/)
    expect(checkOwnership('/s/osctl.yml', renderConfig(undefined, {lab: 'other', hosts: hosts(1), control: 1}), 'lab', false)?.message).toMatch(/generated for lab other/)
    expect(checkOwnership('/s/osctl.yml', 'registry: a:1\n', 'lab', true)).toBeUndefined()
    expect(checkOwnership('/s/osctl.yml', undefined, 'lab', false)).toBeUndefined()
  })

  it('checkLabSite names every foreign file with exit code 2', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'osctl.yml'), 'registry: 10.0.0.1:4000\n')
    await writeFile(join(dir, 'inventory.yml'), 'hosts: {}\n')
    const err = await checkLabSite(dir, 'lab', false).then(() => undefined, (e: unknown) => e as {exitCode: number; headline: string})
    expect(err?.exitCode).toBe(2)
    expect(err?.headline).toContain(join(dir, 'osctl.yml'))
    expect(err?.headline).toContain(join(dir, 'inventory.yml'))
  })

  it('what lab up renders is a site loadSite accepts', async () => {
    const dir = await tempDir()
    const s = {lab: 'lab', hosts: hosts(5), control: 3}
    await writeFile(join(dir, 'osctl.yml'), renderConfig(undefined, s))
    await writeFile(join(dir, 'inventory.yml'), renderInventory(undefined, s))
    await writeFile(join(dir, 'known_hosts'), renderKnownHosts(undefined, s.hosts.map((h) => ({address: h.address, key: KEY}))))
    await generatePasswords(join(dir, 'passwords.yml'))
    const site = await loadSite(dir)
    expect(site.hosts.map((h) => h.name)).toEqual(['lab-1', 'lab-2', 'lab-3', 'lab-4', 'lab-5'])
    expect(site.groups.control).toEqual(['lab-1', 'lab-2', 'lab-3'])
    expect(site.config.sshHostKeyPolicy).toBe('strict')
    expect(site.hosts[0].ssh.keyFile).toBe(join(dir, 'id_ed25519'))
  })
})

describe('generateReadableKeyPair', () => {
  it('never returns a key pair ssh2 cannot parse back (ssh2 sometimes generates one)', async () => {
    const {generateReadableKeyPair} = await import('../../../src/lab/lab-site.js')
    const {utils} = await import('ssh2')
    const broken = readFileSync(join(import.meta.dirname, 'malformed-ed25519.key'), 'utf8')
    let calls = 0
    const pair = generateReadableKeyPair(() => (++calls < 3 ? {private: broken, public: 'x'} : utils.generateKeyPairSync('ed25519')))
    expect(calls).toBe(3)
    expect(utils.parseKey(pair.private)).not.toBeInstanceOf(Error)
    for (let i = 0; i < 300; i++) expect(utils.parseKey(generateReadableKeyPair().private)).not.toBeInstanceOf(Error)
  })
})
