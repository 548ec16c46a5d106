import {describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {OsctlError, OsctlErrors} from '../../../src/errors.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import type {Site} from '../../../src/site/types.js'
import {testSite} from '../../fakes/site.js'

const NOVA = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute']
const plan = async (site: Site, services?: string[]) => planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services, targets: site.hosts})
const rendered = async (site: Site, service: string) => (await plan(site)).services.find((s) => s.def.name === service)!.rendered.get('lab-2')!.containers[0]

describe('nova_compute_driver and nova_virt_type (osctl.yml) in the rendered services', () => {
  it('libvirt: nova-libvirt is planned before nova-compute, which reads the virt_type nova-libvirt decides; both share /var/lib/nova and /run/libvirt', async () => {
    const site = testSite({enabledServices: [...NOVA, 'nova-libvirt'], novaVirtType: 'auto'})
    const order = (await plan(site)).services.map((s) => s.def.name)
    expect(order.indexOf('nova-libvirt')).toBeLessThan(order.indexOf('nova-compute'))
    const compute = await rendered(site, 'nova-compute')
    expect(compute.files['nova.conf']).toMatch(/^compute_driver = libvirt\.LibvirtDriver$/m)
    expect(compute.files['nova.conf']).toMatch(/^\[vnc\]\nenabled = false$/m)
    expect(compute.files['nova.conf']).not.toMatch(/^virt_type/m)
    expect(JSON.parse(compute.files['config.json']).command).toEqual(['sh', '-c', 'exec nova-compute --config-file /etc/nova/nova.conf --config-file /var/lib/nova/osctl-virt-type.conf'])
    const libvirt = await rendered(site, 'nova-libvirt')
    expect(JSON.parse(libvirt.files['config.json']).command).toEqual(['sh', '-c', 'exec osctl-libvirt-start auto /var/lib/nova/osctl-virt-type.conf'])
    for (const v of ['nova_compute:/var/lib/nova', '/run/libvirt:/run/libvirt']) {
      expect(compute.volumes).toContain(v)
      expect(libvirt.volumes).toContain(v)
    }
    expect(compute.volumes).toContain('/dev/pts:/dev/pts')
    expect(libvirt.volumes).toContain('/dev:/dev')
    expect(compute.env.OSCTL_NOVA_VIRT_TYPE).toBe('auto')
    // osctl's gate: on the bus (read from the host), then libvirtd answers (in the container); Docker's check: both in the container.
    expect(compute.health).toEqual({kind: 'exec', target: `python3 -c 'import libvirt; libvirt.openReadOnly("qemu:///system").close()'`, first: {kind: 'connected', target: 'nova-compute:5672'}, timeoutSeconds: 180})
    expect(compute.monitor).toEqual({kind: 'exec', target: `healthcheck_rabbitmq nova-compute && python3 -c 'import libvirt; libvirt.openReadOnly("qemu:///system").close()'`})
    expect(libvirt.files['qemu.conf']).toMatch(/^cgroup_controllers = \[ \]$/m)
    expect(libvirt.files['libvirtd.conf']).toMatch(/^listen_tcp = 0$/m)
  })

  it('nova_virt_type kvm or qemu is passed to nova-libvirt as it is (no probe)', async () => {
    const libvirt = await rendered(testSite({enabledServices: [...NOVA, 'nova-libvirt'], novaVirtType: 'qemu'}), 'nova-libvirt')
    expect(JSON.parse(libvirt.files['config.json']).command.at(-1)).toBe('exec osctl-libvirt-start qemu /var/lib/nova/osctl-virt-type.conf')
  })

  it('fake: nova-compute runs the fake driver without nova-libvirt, and a listed nova-libvirt is refused', async () => {
    const site = testSite({enabledServices: NOVA, novaComputeDriver: 'fake'})
    expect((await plan(site)).services.map((s) => s.def.name)).not.toContain('nova-libvirt')
    const compute = await rendered(site, 'nova-compute')
    expect(compute.files['nova.conf']).toMatch(/^compute_driver = fake\.FakeDriver$/m)
    expect(compute.files['nova.conf']).not.toContain('[libvirt]')
    expect(JSON.parse(compute.files['config.json']).command).toEqual(['sh', '-c', 'exec nova-compute --config-file /etc/nova/nova.conf'])
    // No libvirt: the exec renders empty, so the gate is the connected check alone.
    expect(compute.health).toEqual({kind: 'connected', target: 'nova-compute:5672', timeoutSeconds: 180})
    expect(compute.monitor).toEqual({kind: 'exec', target: 'healthcheck_rabbitmq nova-compute'})

    const err = await plan(testSite({enabledServices: [...NOVA, 'nova-libvirt'], novaComputeDriver: 'fake'})).catch((e: unknown) => e)
    const errors = err instanceof OsctlErrors ? err.errors : [err as OsctlError]
    expect(errors.map((e) => e.message)).toEqual(['service nova-libvirt runs only with nova_compute_driver: libvirt (this site says fake)'])
  })

  it('libvirt without nova-libvirt enabled is refused: nova-compute depends on it', async () => {
    const err = await plan(testSite({enabledServices: NOVA})).catch((e: unknown) => e)
    const errors = err instanceof OsctlErrors ? err.errors : [err as OsctlError]
    expect(errors.map((e) => e.message)).toEqual(['service nova-compute depends on nova-libvirt, which is not in enabled_services'])
  })
})
