import {cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {groupHosts, hostVar, parseIniInventory} from '../../../src/kolla/ini-inventory.js'
import {mapGlobals} from '../../../src/kolla/map-globals.js'
import {YamlSource} from '../../../src/site/yaml-source.js'
import {ImportResult, importKolla} from '../../../src/kolla/import-site.js'
import {loadSite} from '../../../src/site/load-site.js'
import {knownServices} from '../../../src/site/service-catalog.js'
import {requiredSecrets} from '../../../src/site/secrets.js'

const FIXTURE = join(import.meta.dirname, '../../fixtures/kolla')
let work: string
let kolla: string
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'osctl-kolla-'))
  kolla = join(work, 'kolla')
  await cp(FIXTURE, kolla, {recursive: true})
})
afterEach(async () => {
  await rm(work, {recursive: true, force: true})
})

const where = (r: ImportResult, key: string) => r.unmapped.find((u) => u.key === key)

describe('site import --from-kolla (a realistic kolla config)', () => {
  it('writes a site the loader accepts: release, tag, registry on its host, namespace, interfaces, hosts with ssh settings, groups through :children', async () => {
    const out = join(work, 'site')
    const r = await importKolla({from: kolla, out})
    expect((await readdir(out)).sort()).toEqual(['inventory.yml', 'osctl.yml', 'passwords.yml'])
    expect((await stat(join(out, 'passwords.yml'))).mode & 0o777).toBe(0o600)
    const site = await loadSite(out)
    expect(site.config).toMatchObject({
      openstackRelease: '2023.1', imageTag: '2023.1-site3', baseDistro: 'debian', registry: '10.20.0.11:4000', namespace: 'site3',
      networkInterface: 'ens3', apiInterface: 'ens3', enabledServices: [...knownServices()], novaVirtType: 'qemu',
    })
    const key = join(kolla, 'keys/id_kolla')
    expect(site.hosts).toEqual([
      {name: 'ctl01', address: '10.20.0.11', ssh: {user: 'root', port: 22, keyFile: key}, groups: ['deploy', 'control']},
      {name: 'ctl02', address: 'ctl02', ssh: {user: 'root', port: 22, keyFile: key}, groups: ['control']},
      {name: 'ctl03', address: 'ctl03', ssh: {user: 'root', port: 22, keyFile: key}, groups: ['control']},
      {name: 'cmp01', address: '10.20.0.21', ssh: {user: 'root', port: 22, keyFile: key}, groups: ['compute']},
      {name: 'cmp02', address: '10.20.0.22', ssh: {user: 'root', port: 2222, keyFile: key}, groups: ['compute']},
    ])
    expect(await readFile(join(out, 'inventory.yml'), 'utf8')).toContain(`defaults:\n  ssh_user: root\n  ssh_key: ${key}\nhosts:\n  ctl01: {address: 10.20.0.11}\n`)
    expect(await readFile(join(out, 'osctl.yml'), 'utf8')).toContain('# from globals.yml:32:1 docker_registry\nregistry: "10.20.0.11:4000"\n')
    // The key file is not on this machine: the site is valid, bootstrap would still refuse it.
    expect(r.beforeHosts).toEqual([expect.objectContaining({message: expect.stringContaining(`SSH key file ${key} does not exist`)})])
  })

  it('copies the passwords osctl uses, generates the ones kolla left empty or lacks, and copies nothing else', async () => {
    const out = join(work, 'site')
    const r = await importKolla({from: kolla, out})
    const site = await loadSite(out)
    expect(site.passwords).toMatchObject({database_password: 'Kd8fQ2mZr7LwX1pV', keystone_admin_password: 'AdminPw4Site3xYz', nova_api_database_password: 'NvApiDbP0o9i8u7y', rabbitmq_password: 'RbPwY6u7i8o9p0a1'})
    expect(Object.keys(site.passwords).sort()).toEqual([...requiredSecrets()].sort())
    expect(r.generated.sort()).toEqual(['etcd_cluster_token', 'keystone_credential_seed', 'keystone_fernet_seed', 'neutron_database_password', 'neutron_keystone_password', 'neutron_metadata_secret', 'placement_database_password', 'registry_http_secret'])
    expect(site.passwords.placement_database_password).toMatch(/^[A-Za-z0-9]{32}$/)
    // No secret value in the report (it is what --json prints).
    const report = JSON.stringify(r)
    for (const value of ['Kd8fQ2mZr7LwX1pV', 'AdminPw4Site3xYz', 'Hs7Kq2Wm9Zp4Lx8V', 'CookieH7j8k9l0z1', 'fixturefixture']) expect(report).not.toContain(value)
  })

  it('lists what it could not map, each at its file:line with the reason', async () => {
    const r = await importKolla({from: kolla, out: join(work, 'site')})
    const g = join(kolla, 'globals.yml')
    const p = join(kolla, 'passwords.yml')
    const inv = join(kolla, 'multinode')
    // This site turns haproxy off: kolla's "VIP" is then the first controller, osctl's default.
    expect(where(r, 'kolla_internal_vip_address')).toEqual({location: `${g}:20:1`, key: 'kolla_internal_vip_address', reason: expect.stringMatching(/enable_haproxy is no/)})
    // Mapped, not listed: kolla's qemu is osctl's nova_virt_type.
    expect(where(r, 'nova_compute_virt_type')).toBeUndefined()
    expect(r.mapped).toContainEqual({from: `${g}:65:1`, key: 'nova_compute_virt_type', to: 'nova_virt_type'})
    expect(where(r, 'enable_keepalived')).toMatchObject({location: `${g}:55:1`, reason: expect.stringMatching(/Jinja expression/)})
    expect(where(r, 'enable_cinder')).toMatchObject({location: `${g}:56:1`, reason: 'osctl does not deploy this service'})
    expect(where(r, 'enable_etcd')?.reason).toMatch(/always runs etcd/)
    expect(where(r, 'docker_registry_insecure')?.location).toBe(`${g}:33:1`)
    expect(where(r, 'neutron_external_interface')?.reason).toMatch(/neutron_external_bridge/)
    expect(where(r, 'tunnel_interface')?.location).toBe(`${g}:44:1`)
    // Off in kolla and absent in osctl, or kolla's own default: nothing lost, nothing reported.
    for (const key of ['enable_heat', 'enable_horizon', 'enable_haproxy', 'api_interface', 'openstack_release']) expect(r.unmapped.filter((u) => u.key === key && u.location.startsWith(g)), key).toEqual([])
    expect(where(r, 'nova_ssh_key')).toMatchObject({location: `${p}:55:1`, reason: expect.stringMatching(/^an SSH key pair \(private_key, public_key\)/)})
    expect(where(r, 'kolla_ssh_key')?.location).toBe(`${p}:61:1`)
    expect(where(r, 'horizon_secret_key')).toMatchObject({location: `${p}:42:1`, reason: 'no service osctl deploys uses it'})
    expect(where(r, 'host net01')).toMatchObject({location: `${inv}:14`, reason: expect.stringMatching(/^only in network, monitoring/)})
    expect(where(r, 'host sto01')?.location).toBe(`${inv}:29`)
    expect(where(r, 'host localhost')).toMatchObject({location: `${inv}:32`, reason: expect.stringMatching(/deployment host/)})
    expect(r.unmapped).toContainEqual({location: `${inv}:18`, key: 'api_interface', reason: expect.stringMatching(/per-host kolla setting/)})
    expect(where(r, 'ansible_become')?.location).toBe(`${inv}:37`)
    expect(where(r, 'ansible_python_interpreter')?.location).toBe(`${inv}:40`)
    expect(r.mapped).toContainEqual({from: `${g}:12:1`, key: 'openstack_release', to: 'openstack_release'})
    expect(r.mapped).toContainEqual({from: `${inv}:3`, key: '[control]', to: 'groups.control'})
  })

  it('enable_* flags that turn an osctl service off become enabled_services; a registry on no host moves to the deploy host', async () => {
    const globals = (await readFile(join(kolla, 'globals.yml'), 'utf8')).replace('enable_glance: "yes"', 'enable_glance: "no"').replace('docker_registry: 10.20.0.11:4000', 'docker_registry: quay.io')
    await writeFile(join(kolla, 'globals.yml'), globals)
    const r = await importKolla({from: kolla, out: join(work, 'site')})
    const site = await loadSite(join(work, 'site'))
    expect(site.config.enabledServices).toEqual(knownServices().filter((s) => s !== 'glance'))
    expect(site.config.registry).toBe('10.20.0.11:4000')
    expect(where(r, 'docker_registry')?.reason).toMatch(/not one of the hosts: osctl runs its own registry on the deploy host \(ctl01\)/)
  })

  it('refuses an existing site dir, a missing file and broken YAML (exit 2, located), writing nothing', async () => {
    const out = join(work, 'site')
    await mkdir(out)
    await writeFile(join(out, 'osctl.yml'), 'registry: x:1\n')
    expect(await importKolla({from: kolla, out}).catch((e) => e)).toMatchObject({code: 'USAGE', exitCode: 2, location: '--site'})
    expect(await readdir(out)).toEqual(['osctl.yml'])
    const fresh = join(work, 'fresh')
    expect(await importKolla({from: kolla, out: fresh, inventory: join(kolla, 'nope')}).catch((e) => e)).toMatchObject({exitCode: 2, location: '--inventory'})
    await writeFile(join(kolla, 'globals.yml'), 'network_interface: "ens3\nopenstack_release: zed\n')
    expect(await importKolla({from: kolla, out: fresh}).catch((e) => e)).toMatchObject({exitCode: 2, location: expect.stringMatching(/globals\.yml:\d+:\d+$/)})
    expect(await readdir(work)).toEqual(['kolla', 'site'])
  })
})

describe('the INI inventory reader', () => {
  it('ranges, children (transitively, cycles cut), host vars over group vars over all:vars, comments', () => {
    const inv = parseIniInventory('/x/multinode', [
      '[control]', 'ctl[08:10] ansible_user=kolla', 'node-[a:b] ; note', '', '[nova:children]', 'control', '[nova-api:children]', 'nova', 'nova-api',
      '[all:vars]', 'ansible_user=root', 'ansible_port=22', '[nova-api:vars]', 'ansible_port=2200',
    ].join('\n'))
    expect(inv.hosts).toEqual(['ctl08', 'ctl09', 'ctl10', 'node-a', 'node-b'])
    expect(groupHosts(inv, 'nova-api')).toEqual(inv.hosts)
    expect(hostVar(inv, 'ctl09', 'ansible_user')).toEqual({value: 'kolla', line: 2})
    expect(hostVar(inv, 'node-a', 'ansible_user')).toEqual({value: 'root', line: 11})
    expect(hostVar(inv, 'node-b', 'ansible_port')).toEqual({value: '2200', line: 14})
  })

  it('a line it cannot read is an error at file:line', () => {
    expect(() => parseIniInventory('/x/multinode', '[control\nctl1\n')).toThrow(expect.objectContaining({location: '/x/multinode:1'}))
    expect(() => parseIniInventory('/x/multinode', '[control]\nctl[3:x]\n')).toThrow(expect.objectContaining({location: '/x/multinode:2'}))
  })
})

describe('kolla container healthcheck settings', () => {
  it("become osctl.yml's keys of the same names; a value osctl.yml would refuse is listed with what it takes", () => {
    const src = new YamlSource('/k/globals.yml', 'enable_container_healthchecks: "yes"\ndefault_container_healthcheck_interval: "90"\ndefault_container_healthcheck_timeout: 30\ndefault_container_healthcheck_retries: 0\ndefault_container_healthcheck_start_period: "5"\n')
    const m = mapGlobals(src)
    expect(m.config).toEqual({enable_container_healthchecks: true, default_container_healthcheck_interval: 90, default_container_healthcheck_timeout: 30, default_container_healthcheck_start_period: 5})
    expect(m.unmapped).toEqual([{location: '/k/globals.yml:4:1', key: 'default_container_healthcheck_retries', reason: 'not an integer between 1 and 100 (0)'}])
    expect(mapGlobals(new YamlSource('/k/globals.yml', 'enable_container_healthchecks: "no"\n')).config).toEqual({enable_container_healthchecks: false})
  })
})

describe('kolla openstack_service_workers', () => {
  it("becomes osctl.yml's key of the same name; 0 is listed with what osctl.yml takes", () => {
    expect(mapGlobals(new YamlSource('/k/globals.yml', 'openstack_service_workers: "3"\nkeystone_api_workers: 4\n')).config).toEqual({openstack_service_workers: 3, keystone_api_workers: 4})
    expect(mapGlobals(new YamlSource('/k/globals.yml', 'openstack_service_workers: 0\n')).unmapped).toEqual([{location: '/k/globals.yml:1:1', key: 'openstack_service_workers', reason: 'not an integer between 1 and 64 (0)'}])
  })
})

describe('kolla VIP settings', () => {
  it('kolla_internal_vip_address becomes internal_vip with haproxy on (kolla\'s default), with its router id; a bad value is listed', () => {
    const src = new YamlSource('/k/globals.yml', 'kolla_internal_vip_address: "10.20.0.250"\nkeepalived_virtual_router_id: "77"\nenable_haproxy: "yes"\nkolla_external_vip_address: "192.0.2.10"\n')
    const m = mapGlobals(src)
    expect(m.config).toMatchObject({internal_vip: '10.20.0.250', keepalived_virtual_router_id: 77, external_vip: '192.0.2.10'})
    expect(m.mapped.map((x) => `${x.key}→${x.to}`)).toEqual(['kolla_internal_vip_address→internal_vip', 'keepalived_virtual_router_id→keepalived_virtual_router_id', 'enable_haproxy→internal_vip', 'kolla_external_vip_address→external_vip'])
    expect(m.unmapped).toEqual([])
    expect(mapGlobals(new YamlSource('/k/g.yml', 'kolla_internal_vip_address: vip.example.org\n')).unmapped[0].reason).toMatch(/not an IPv4 address/)
  })

  it('kolla_enable_tls_* become tls.internal/external; the same external VIP (kolla\'s default) is no external_vip and its TLS follows the internal', () => {
    const same = mapGlobals(new YamlSource('/k/g.yml', 'kolla_internal_vip_address: "10.20.0.250"\nkolla_external_vip_address: "10.20.0.250"\nkolla_enable_tls_internal: "yes"\nkolla_enable_tls_backend: "no"\n'))
    expect(same.config).toMatchObject({internal_vip: '10.20.0.250', tls: {internal: true, external: true}})
    expect(same.config).not.toHaveProperty('external_vip')
    expect(same.mapped.map((x) => x.to)).toEqual(['internal_vip', 'external_vip', 'tls.internal'])
    expect(same.unmapped).toEqual([{location: '/k/g.yml:4:1', key: 'kolla_enable_tls_backend', reason: expect.stringMatching(/haproxy/)}])
    const two = mapGlobals(new YamlSource('/k/g.yml', 'kolla_internal_vip_address: "10.20.0.250"\nkolla_external_vip_address: "192.0.2.10"\nkolla_enable_tls_external: "yes"\n'))
    expect(two.config).toMatchObject({external_vip: '192.0.2.10', tls: {external: true}})
    // Without haproxy there is nothing to end TLS in: reported at its line, not mapped.
    const off = mapGlobals(new YamlSource('/k/g.yml', 'enable_haproxy: "no"\nkolla_enable_tls_internal: "yes"\n'))
    expect(off.config).not.toHaveProperty('tls')
    expect(off.unmapped.map((u) => `${u.location} ${u.key}`)).toContain('/k/g.yml:2:1 kolla_enable_tls_internal')
  })
})

