import {join} from 'node:path'

import {requiredSecrets} from '../../src/site/secrets.js'
import {DEFAULT_CONTAINER_HEALTHCHECK, type Site, type SiteHost} from '../../src/site/types.js'

const host = (name: string, address: string, groups: string[]): SiteHost => ({name, address, ssh: {user: 'root', port: 22}, groups})

export const PASSWORDS: Record<string, string> = {
  // Every secret the catalog needs (requiredSecrets()), with readable values the tests can grep for.
  ...Object.fromEntries(requiredSecrets().map((k) => [k, `${k}-value`])),
  database_password: 'dbroot',
  rabbitmq_password: 'rabbit',
  keystone_admin_password: 'admin-pw',
  keystone_database_password: 'ks-db',
}

/** An in-memory site: lab-1 (control, deploy) and lab-2 (control, compute). */
export function testSite(overrides: Partial<Site['config']> = {}, passwords = PASSWORDS, hosts = 2): Site {
  const all = [host('lab-1', '10.0.0.11', ['deploy', 'control']), host('lab-2', '10.0.0.12', ['control', 'compute'])].slice(0, hosts)
  const dir = '/nonexistent/site'
  return {
    dir,
    config: {
      openstackRelease: 'zed', baseDistro: 'debian', baseDistroRelease: 'bookworm', aptMirror: 'http://deb.debian.org/debian',
      registry: '10.0.0.11:4000', namespace: 'osctl', imageTag: 'zed', networkInterface: 'eth0', apiInterface: 'eth0',
      enabledServices: ['etcd', 'registry', 'mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova'],
      novaComputeDriver: 'libvirt', novaVirtType: 'auto',
      sshHostKeyPolicy: 'strict', sshKnownHosts: join(dir, 'known_hosts'), sshConcurrency: 4, imagePullConcurrency: 3, rollbackStandbySeconds: 0, neutronExternalBridge: 'br-ex', keepalivedVirtualRouterId: 51, containerHealthcheck: {...DEFAULT_CONTAINER_HEALTHCHECK}, tls: {registry: false, internal: false, external: false},
      ...overrides,
    },
    hosts: all,
    groups: {deploy: ['lab-1'], control: all.map((h) => h.name), compute: [all.at(-1)!.name]},
    passwords: {...passwords},
    overridesDir: join(dir, 'overrides'),
    files: {config: join(dir, 'osctl.yml'), inventory: join(dir, 'inventory.yml'), passwords: join(dir, 'passwords.yml')},
  }
}
