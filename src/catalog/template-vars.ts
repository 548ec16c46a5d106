import {CONTAINER_CACERT, apiEndpoints} from '../site/endpoints.js'
import {internalAddress} from '../site/internal-address.js'
import type {Site, SiteHost} from '../site/types.js'
import {MARIADB_AGENT_PORT} from '../system/load-balancer.js'
import {clustered} from './group-hosts.js'

export type TemplateVars = Record<string, unknown>

/** What config templates see; addresses come from the inventory, never from the host itself. */
export function templateVars(site: Site, host: SiteHost): TemplateVars {
  const peers = (group: string) =>
    (site.groups[group] ?? []).map((n) => site.hosts.find((h) => h.name === n)!).map((h) => ({name: h.name, address: h.address}))
  const groups = Object.fromEntries(Object.keys(site.groups).map((g) => [g, peers(g)]))
  const internal = internalAddress(site) ?? host.address
  const endpoints = apiEndpoints(site, host.address)
  // With a VIP, haproxy sends SQL to one Galera node at a time (load-balancer.ts). A control host
  // asks its own haproxy on the loopback, so its SQL connections never depend on which host holds
  // the VIP (a VIP that moves leaves connections through the old holder hanging until ARP catches
  // up); without a VIP, the first control host.
  const control = (groups.control as Array<{address: string}> | undefined) ?? []
  const database = site.config.internalVip ? (host.groups.includes('control') ? '127.0.0.1' : site.config.internalVip) : (control[0]?.address ?? host.address)
  // oslo.messaging fails over between every rabbitmq node: one per control host when clustered, else the first's.
  const rabbitHosts = clustered(site) ? control : control.slice(0, 1)
  const rabbit = (rabbitHosts.length > 0 ? rabbitHosts : [{address: host.address}]).map((h) => `openstack:${site.passwords.rabbitmq_password}@${h.address}:5672`)
  return {
    openstack_release: site.config.openstackRelease,
    region_name: 'RegionOne',
    inventory_hostname: host.name,
    api_address: host.address,
    network_address: host.address,
    api_interface: site.config.apiInterface,
    network_interface: site.config.networkInterface,
    internal_address: internal,
    // kolla's internal/external endpoint with protocol (no port): https when haproxy terminates TLS on that VIP.
    internal_endpoint: endpoints.internal,
    external_endpoint: endpoints.external,
    // The site CA inside a container (empty without TLS on the internal VIP): every cafile option.
    openstack_cacert: endpoints.internalTls ? CONTAINER_CACERT : '',
    // Behind a TLS-terminating haproxy the APIs build their links from X-Forwarded-Proto.
    api_tls: endpoints.internalTls || endpoints.externalTls,
    database_address: database,
    // Undefined without a rabbitmq password, so a template using it fails as passwords.rabbitmq_password would.
    transport_url: site.passwords.rabbitmq_password === undefined ? undefined : `rabbit://${rabbit.join(',')}//`,
    // Galera and RabbitMQ clusters across the control hosts (group-hosts.ts: behind a VIP only).
    clustered: clustered(site),
    // Where each Galera node tells haproxy whether it is Synced (galera.cnf.njk, load-balancer.ts agent-check).
    mariadb_clustercheck_port: MARIADB_AGENT_PORT,
    groups,
    passwords: site.passwords,
    registry: site.config.registry,
    neutron_external_bridge: site.config.neutronExternalBridge,
    // osctl.yml: nova-compute's driver (libvirt|fake) and libvirt's virt_type (auto|kvm|qemu, auto: probed by nova-libvirt).
    nova_compute_driver: site.config.novaComputeDriver,
    nova_virt_type: site.config.novaVirtType,
    // Processes per API service (kolla's name); undefined: uwsgi's ini says one per core.
    openstack_service_workers: site.config.openstackServiceWorkers,
    keystone_api_workers: site.config.keystoneApiWorkers,
  }
}
