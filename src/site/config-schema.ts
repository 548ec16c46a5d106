import {isAbsolute, resolve} from 'node:path'
import {z} from 'zod'

import {isHostPort} from './address.js'
import {IMAGE_TAG, IMAGE_TAG_RULE, NAMESPACE, NAMESPACE_RULE} from './image-ref.js'
import {knownServices} from './service-catalog.js'
import {servicesOffFor} from './services-off.js'
import type {SiteConfig} from './types.js'
import type {SchemaDocs} from './zod-issues.js'

const name = (what: string) => z.string().min(1).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, `must be ${what}`)

/** osctl.yml, key for key as operators write it (kolla globals.yml style, snake_case). */
export const configSchema = z.strictObject({
  openstack_release: name('a release name such as zed').default('zed'),
  base_distro: name('a distribution name such as debian').default('debian'),
  base_distro_release: name('a release codename such as bookworm').default('bookworm'),
  apt_mirror: z
    .string()
    .refine((v) => /^https?:\/\/[^\s/]+/.test(v) && URL.canParse(v), 'must be an http:// or https:// URL')
    .default('http://deb.debian.org/debian'),
  registry: z.string().refine(isHostPort, 'must be HOST:PORT'),
  namespace: z.string().regex(NAMESPACE, NAMESPACE_RULE).default('osctl'),
  image_tag: z.string().regex(IMAGE_TAG, IMAGE_TAG_RULE).optional(),
  network_interface: z
    .string()
    .regex(/^[^\s/:]{1,15}$/, 'must be a Linux interface name (1-15 characters, no spaces, / or :)')
    .default('eth0'),
  api_interface: z
    .string()
    .regex(/^[^\s/:]{1,15}$/, 'must be a Linux interface name (1-15 characters, no spaces, / or :)')
    .optional(),
  // Lazy: the names come from templates/ (service-registry.ts), read only when a site is checked.
  enabled_services: z
    .lazy(() => z.array(z.enum(knownServices() as [string, ...string[]])).refine((list) => new Set(list).size === list.length, 'must not list a service twice'))
    .optional(),
  /** nova-compute's virt driver: libvirt (beside the nova-libvirt service) or fake (no hypervisor; nova-libvirt is not deployed). */
  nova_compute_driver: z.enum(['libvirt', 'fake']).default('libvirt'),
  /** libvirt's virt_type on each compute host: auto (KVM when a probe boots under it, else qemu) or forced. */
  nova_virt_type: z.enum(['auto', 'kvm', 'qemu']).default('auto'),
  // kolla's openstack_service_workers: processes per API service (uwsgi's, glance's workers). Unset:
  // as many as the host has cores (uwsgi's %k), glance 2. Each loads the whole app (lazy-apps).
  openstack_service_workers: z.int().min(1).max(64).optional(),
  // kolla's keystone_api_workers: keystone's own (every other API checks tokens with it); unset: openstack_service_workers.
  keystone_api_workers: z.int().min(1).max(64).optional(),
  ssh_host_key_policy: z.enum(['strict', 'accept-new']).default('accept-new'),
  ssh_known_hosts: z.string().min(1).default('known_hosts'),
  ssh_concurrency: z.int().min(1).max(256).default(10),
  // Downloads of images a host does not have yet, across all hosts of a deploy (one site registry serves them all).
  image_pull_concurrency: z.int().min(1).max(256).default(3),
  // After `service upgrade` of a uwsgi API (image only), its previous container keeps running this
  // long, loaded and taking no connection, so a `service rollback` meanwhile needs no app load; 0: off.
  rollback_standby: z.int().min(0).max(86400).default(600),
  neutron_external_bridge: z
    .string()
    .regex(/^[^\s/:]{1,15}$/, 'must be a Linux interface name (1-15 characters, no spaces, / or :)')
    .default('br-ex'),
  // The provider network `post-deploy --init-network` creates (kolla init-runonce's EXT_NET_*).
  external_network_cidr: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, 'must be an IPv4 CIDR such as 10.99.0.0/24').optional(),
  external_network_gateway: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'must be an IPv4 address').optional(),
  external_network_range: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}-(\d{1,3}\.){3}\d{1,3}$/, 'must be FIRST-LAST, e.g. 10.99.0.100-10.99.0.199').optional(),
  // HA (kolla_internal_vip_address): keepalived holds it on one control host, haproxy on each serves every API on it.
  internal_vip: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'must be an IPv4 address').optional(),
  // kolla_external_vip_address: the public endpoints (keepalived holds it beside internal_vip). Without it they use internal_vip.
  external_vip: z.string().regex(/^(\d{1,3}\.){3}\d{1,3}$/, 'must be an IPv4 address').optional(),
  keepalived_virtual_router_id: z.int().min(1).max(255).default(51),
  // Docker's own check in every service container (kolla's names; osctl's defaults, not kolla's
  // 30 s timeout and 5 s start period): how often it runs between deploys. osctl's deploy gates are
  // its own; `docker ps` reads Docker's word, a no-op deploy only while it is as fresh as by default (decide.ts).
  enable_container_healthchecks: z.boolean().default(true),
  default_container_healthcheck_interval: z.int().min(1).max(86_400).default(30),
  default_container_healthcheck_timeout: z.int().min(1).max(3600).default(10),
  default_container_healthcheck_retries: z.int().min(1).max(100).default(3),
  default_container_healthcheck_start_period: z.int().min(0).max(3600).default(0),
  // What speaks TLS with the site CA (`osctl certificates`); one key per part, as kolla's
  // kolla_enable_tls_*: the registry, the APIs on internal_vip (internal) and on external_vip (external).
  tls: z
    .strictObject({registry: z.boolean().default(false), internal: z.boolean().default(false), external: z.boolean().default(false)})
    .default({registry: false, internal: false, external: false}),
})

export type ConfigFile = z.output<typeof configSchema>

export const configDocs: SchemaDocs = {
  knownKeysAt: (path) => (path[0] === 'tls' ? Object.keys(configSchema.shape.tls.unwrap().shape) : Object.keys(configSchema.shape)),
  fallbackHint: 'see the osctl.yml reference in README.md',
  fields: {
    openstack_release: {hint: 'the OpenStack release to deploy, e.g. `openstack_release: zed`'},
    base_distro: {hint: 'the base image distribution, e.g. `base_distro: debian`'},
    base_distro_release: {hint: 'the distribution codename, e.g. `base_distro_release: bookworm`'},
    apt_mirror: {hint: 'e.g. `apt_mirror: http://deb.debian.org/debian`'},
    registry: {
      what: 'HOST:PORT',
      hint: 'set it to the address and port of the registry on the deploy host, e.g. `registry: 10.213.0.2:4000` (IPv6: `[fd00::2]:4000`)',
    },
    namespace: {hint: 'the image namespace in the registry, e.g. `namespace: osctl`'},
    image_tag: {hint: 'the default image tag; quote it if it looks like a number, e.g. `image_tag: "1.0"`'},
    network_interface: {hint: 'the interface every host uses for the management network, e.g. `network_interface: eth0`'},
    api_interface: {hint: 'the interface the API endpoints bind to; omit it to use network_interface'},
    enabled_services: {
      what: 'a list of service names',
      get hint() {
        return `list services from: ${knownServices().join(', ')} (omit the key to enable all of them)`
      },
    },
    nova_compute_driver: {hint: '`libvirt` (real VMs, with the nova-libvirt service) or `fake` (instances only in nova\'s database; nova-libvirt is not deployed)'},
    openstack_service_workers: {what: 'an integer between 1 and 64', hint: 'processes per API service on each host, e.g. `openstack_service_workers: 2` (omit it for one per core)'},
    keystone_api_workers: {what: 'an integer between 1 and 64', hint: 'keystone\'s processes on each control host, e.g. `keystone_api_workers: 2` (omit it to follow openstack_service_workers)'},
    nova_virt_type: {hint: '`auto` (each compute host probes KVM when nova-libvirt starts, else qemu), `kvm` or `qemu`'},
    ssh_host_key_policy: {hint: 'use `strict` (only keys already in known_hosts) or `accept-new` (record unknown keys on first contact)'},
    ssh_known_hosts: {hint: 'a path relative to the site dir or absolute, e.g. `ssh_known_hosts: known_hosts`'},
    neutron_external_bridge: {hint: 'an existing Linux bridge on the network hosts that carries the provider network (floating IPs), e.g. `neutron_external_bridge: br-ex`'},
    external_network_cidr: {hint: 'the provider (floating IP) network, e.g. `external_network_cidr: 10.99.0.0/24`'},
    external_network_gateway: {hint: 'its gateway: an address of the network host bridge, e.g. `external_network_gateway: 10.99.0.1`'},
    external_network_range: {hint: 'the floating IP pool, e.g. `external_network_range: 10.99.0.100-10.99.0.199`'},
    internal_vip: {hint: 'a free address on the api_interface network that keepalived moves between the control hosts, e.g. `internal_vip: 10.213.0.250` (kolla_internal_vip_address)'},
    keepalived_virtual_router_id: {what: 'an integer between 1 and 255', hint: 'unique per network segment among VRRP users, e.g. `keepalived_virtual_router_id: 51`'},
    external_vip: {hint: 'a second free address for the public endpoints, e.g. `external_vip: 10.213.0.251` (kolla_external_vip_address); omit it to use internal_vip'},
    tls: {what: 'a mapping', hint: 'e.g. `tls: {registry: true, internal: true, external: true}` (run `osctl certificates` first)'},
    'tls.internal': {what: 'true or false', hint: '`tls: {internal: true}`: haproxy serves every API on internal_vip over HTTPS with the site CA (kolla_enable_tls_internal)'},
    'tls.external': {what: 'true or false', hint: '`tls: {external: true}`: the public endpoints (external_vip) speak HTTPS (kolla_enable_tls_external)'},
    'tls.registry': {what: 'true or false', hint: '`tls: {registry: true}` serves the site registry over HTTPS with the site CA (run `osctl certificates` first)'},
    enable_container_healthchecks: {what: 'true or false', hint: '`false` leaves Docker\'s periodic check out of every service container (kolla\'s enable_container_healthchecks); osctl still gates each change on its own checks, and a no-op deploy then probes every container'},
    default_container_healthcheck_interval: {what: 'seconds between 1 and 86400', hint: 'how often Docker runs a container\'s check, e.g. `default_container_healthcheck_interval: 30`'},
    default_container_healthcheck_timeout: {what: 'seconds between 1 and 3600', hint: 'how long one check may take before it counts as failed, e.g. `default_container_healthcheck_timeout: 10`'},
    default_container_healthcheck_retries: {what: 'an integer between 1 and 100', hint: 'failed checks in a row before Docker calls a container unhealthy, e.g. `default_container_healthcheck_retries: 3`'},
    default_container_healthcheck_start_period: {what: 'seconds between 0 and 3600', hint: 'how long after a start failed checks do not count, e.g. `default_container_healthcheck_start_period: 5`'},
    ssh_concurrency: {what: 'an integer between 1 and 256', hint: 'how many hosts osctl works on at once, e.g. `ssh_concurrency: 10`'},
    image_pull_concurrency: {what: 'an integer between 1 and 256', hint: 'how many image downloads a deploy runs at once across all hosts, e.g. `image_pull_concurrency: 3`'},
    rollback_standby: {what: 'seconds between 0 and 86400', hint: 'how long the previous container of an upgraded API stays loaded for an instant `service rollback`, e.g. `rollback_standby: 600` (0: off)'},
  },
}

/** Applies derived defaults (image_tag follows the release, api_interface the network interface). */
export function toSiteConfig(file: ConfigFile, siteDir: string): SiteConfig {
  return {
    openstackRelease: file.openstack_release,
    baseDistro: file.base_distro,
    baseDistroRelease: file.base_distro_release,
    aptMirror: file.apt_mirror,
    registry: file.registry,
    namespace: file.namespace,
    imageTag: file.image_tag ?? file.openstack_release,
    networkInterface: file.network_interface,
    apiInterface: file.api_interface ?? file.network_interface,
    enabledServices: file.enabled_services ?? knownServices().filter((s) => !servicesOffFor(file.nova_compute_driver).includes(s)),
    novaComputeDriver: file.nova_compute_driver,
    novaVirtType: file.nova_virt_type,
    openstackServiceWorkers: file.openstack_service_workers,
    keystoneApiWorkers: file.keystone_api_workers ?? file.openstack_service_workers,
    sshHostKeyPolicy: file.ssh_host_key_policy,
    sshKnownHosts: isAbsolute(file.ssh_known_hosts) ? file.ssh_known_hosts : resolve(siteDir, file.ssh_known_hosts),
    sshConcurrency: file.ssh_concurrency,
    imagePullConcurrency: file.image_pull_concurrency,
    rollbackStandbySeconds: file.rollback_standby,
    neutronExternalBridge: file.neutron_external_bridge,
    ...(file.internal_vip ? {internalVip: file.internal_vip} : {}),
    ...(file.external_vip ? {externalVip: file.external_vip} : {}),
    keepalivedVirtualRouterId: file.keepalived_virtual_router_id,
    containerHealthcheck: {
      enabled: file.enable_container_healthchecks,
      intervalSeconds: file.default_container_healthcheck_interval,
      timeoutSeconds: file.default_container_healthcheck_timeout,
      retries: file.default_container_healthcheck_retries,
      startPeriodSeconds: file.default_container_healthcheck_start_period,
    },
    tls: {registry: file.tls.registry, internal: file.tls.internal, external: file.tls.external},
    ...(file.external_network_cidr ? {externalNetwork: {cidr: file.external_network_cidr, gateway: file.external_network_gateway, range: file.external_network_range}} : {}),
  }
}
