import {rm} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {loadSite} from '../../../src/site/load-site.js'
import {knownServices} from '../../../src/site/service-catalog.js'
import {makeSite, yaml} from '../../fixtures/sites/make-site.js'

const dirs: string[] = []
async function site(files: Record<string, string | null> = {}): Promise<string> {
  const dir = await makeSite(files)
  dirs.push(dir)
  return dir
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

describe('loadSite on a valid site', () => {
  it('maps osctl.yml to SiteConfig with absolute paths', async () => {
    const dir = await site()
    const s = await loadSite(dir)
    expect(s.dir).toBe(dir)
    expect(s.config).toEqual({
      openstackRelease: 'zed',
      baseDistro: 'debian',
      baseDistroRelease: 'bookworm',
      aptMirror: 'http://deb.debian.org/debian',
      registry: '10.213.0.2:4000',
      namespace: 'osctl',
      imageTag: 'zed',
      networkInterface: 'eth0',
      apiInterface: 'eth0',
      // As osctl.yml lists them (every known service).
      enabledServices: ['etcd', 'registry', 'mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'neutron', 'placement', 'neutron-agents', 'neutron-linuxbridge-agent', 'nova', 'nova-compute', 'nova-libvirt'],
      novaComputeDriver: 'libvirt',
      novaVirtType: 'auto',
      sshHostKeyPolicy: 'strict',
      sshKnownHosts: join(dir, 'known_hosts'),
      sshConcurrency: 4,
      imagePullConcurrency: 2,
      rollbackStandbySeconds: 600,
      neutronExternalBridge: 'br-ex',
      keepalivedVirtualRouterId: 51,
      containerHealthcheck: {enabled: true, intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0},
      tls: {registry: false, internal: false, external: false},
    })
    expect(s.files).toEqual({config: join(dir, 'osctl.yml'), inventory: join(dir, 'inventory.yml'), passwords: join(dir, 'passwords.yml')})
    expect(s.overridesDir).toBe(join(dir, 'overrides'))
    expect(s.passwords).toEqual({keystone_admin_password: 'admin-from-operator'})
  })

  it('applies inventory defaults, per-host overrides and group membership in file order', async () => {
    const dir = await site()
    const s = await loadSite(dir)
    expect(s.hosts).toEqual([
      {name: 'lab-1', address: '10.213.0.2', ssh: {user: 'root', port: 22, keyFile: join(dir, 'id_ed25519')}, groups: ['deploy', 'control']},
      {name: 'lab-2', address: '10.213.0.3', ssh: {user: 'root', port: 2222, keyFile: join(dir, 'id_ed25519')}, groups: ['compute']},
      {name: 'lab-3', address: 'lab-3.example.org', ssh: {user: 'admin', port: 22, keyFile: '/keys/lab3'}, groups: ['compute']},
    ])
    expect(s.groups).toEqual({deploy: ['lab-1'], control: ['lab-1'], compute: ['lab-2', 'lab-3'], network: ['lab-1']})
  })

  it('fills defaults for a minimal site; image_tag follows the release and api_interface the network interface', async () => {
    const dir = await site({
      'osctl.yml': yaml('registry: "[fd00::2]:4000"', 'openstack_release: "2023.1"', 'network_interface: ens3'),
      'inventory.yml': yaml('hosts:', '  n1: {address: "fd00::2"}', 'groups:', '  deploy: [n1]'),
      'passwords.yml': null,
    })
    const s = await loadSite(dir)
    expect(s.config.imageTag).toBe('2023.1')
    expect(s.config.apiInterface).toBe('ens3')
    expect(s.config.sshHostKeyPolicy).toBe('accept-new')
    expect(s.config.sshConcurrency).toBe(10)
    expect(s.config.namespace).toBe('osctl')
    expect(s.config.aptMirror).toBe('http://deb.debian.org/debian')
    expect(s.config.novaComputeDriver).toBe('libvirt')
    expect(s.config.novaVirtType).toBe('auto')
    expect(s.config.enabledServices).toContain('nova-libvirt')
    expect(s.hosts[0].ssh).toEqual({user: 'root', port: 22})
    // A missing passwords.yml is not an error at load time: genpwd creates it, deploy checks it.
    expect(s.passwords).toEqual({})
  })

  it('nova_compute_driver: fake leaves nova-libvirt out of the default enabled_services; nova_virt_type is kept as written', async () => {
    const dir = await site({'osctl.yml': yaml('registry: 10.213.0.2:4000', 'nova_compute_driver: fake', 'nova_virt_type: qemu')})
    const s = await loadSite(dir)
    expect(s.config.novaComputeDriver).toBe('fake')
    expect(s.config.novaVirtType).toBe('qemu')
    expect(s.config.enabledServices).toEqual(knownServices().filter((n) => n !== 'nova-libvirt'))
    expect(s.config.enabledServices).toContain('nova-compute')
  })

  it('internal_vip: kept with its router id; the address of a host is refused at its line (exit 2)', async () => {
    const ok = await loadSite(await site({'osctl.yml': yaml('registry: 10.213.0.2:4000', 'internal_vip: 10.213.0.250', 'keepalived_virtual_router_id: 9')}))
    expect(ok.config).toMatchObject({internalVip: '10.213.0.250', keepalivedVirtualRouterId: 9})
    const taken = ok.hosts[0].address
    const dir = await site({'osctl.yml': yaml('registry: 10.213.0.2:4000', `internal_vip: ${taken}`)})
    const err = (await loadSite(dir).catch((e: unknown) => e)) as {exitCode: number; errors: Array<{message: string; location?: string}>}
    expect(err.exitCode).toBe(2)
    expect(err.errors[0].message).toBe(`internal_vip ${taken} is the address of host ${ok.hosts[0].name}`)
    expect(err.errors[0].location).toBe(`${join(dir, 'osctl.yml')}:2:15`)
  })

  it("kolla's container healthcheck keys: taken as written; a value out of range is refused at its line with what it takes (exit 2)", async () => {
    const ok = await loadSite(await site({'osctl.yml': yaml('registry: 10.213.0.2:4000', 'default_container_healthcheck_interval: 120', 'default_container_healthcheck_start_period: 5', 'enable_container_healthchecks: true')}))
    expect(ok.config.containerHealthcheck).toEqual({enabled: true, intervalSeconds: 120, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 5})
    const dir = await site({'osctl.yml': yaml('registry: 10.213.0.2:4000', 'default_container_healthcheck_interval: 0')})
    const err = (await loadSite(dir).catch((e: unknown) => e)) as {exitCode: number; errors: Array<{message: string; location?: string; hint?: string}>}
    expect(err.exitCode).toBe(2)
    expect(err.errors[0].location).toBe(`${join(dir, 'osctl.yml')}:2:41`)
    expect(err.errors[0].message).toBe('default_container_healthcheck_interval must be at least 1, not 0')
    expect(err.errors[0].hint).toMatch(/how often Docker runs a container's check/)
  })

  it('accepts an empty passwords.yml and treats a comment-only one as empty', async () => {
    const dir = await site({'passwords.yml': '# nothing yet\n'})
    expect((await loadSite(dir)).passwords).toEqual({})
  })

  it('can ignore passwords.yml entirely (genpwd validates the rest first)', async () => {
    const dir = await site({'passwords.yml': 'a: [\n'})
    await expect(loadSite(dir)).rejects.toMatchObject({code: 'CONFIG_INVALID'})
    expect((await loadSite(dir, {passwords: 'ignore'})).passwords).toEqual({})
  })
})
