/**
 * The site directory, loaded and validated. Everything downstream (planning, SSH, image builds)
 * consumes these shapes, never the raw YAML, so defaults and path resolution live in one place.
 */

export interface SiteHost {
  name: string
  /** IPv4/IPv6 literal or DNS name osctl reaches the host on. */
  address: string
  ssh: {user: string; port: number; keyFile?: string /* absolute */}
  /** Groups that list this host, in the order inventory.yml declares the groups. */
  groups: string[]
}

export interface SiteConfig {
  openstackRelease: string
  baseDistro: string
  baseDistroRelease: string
  aptMirror: string
  /** host:port of the site image registry (runs on the deploy host). */
  registry: string
  namespace: string
  imageTag: string
  networkInterface: string
  apiInterface: string
  enabledServices: string[]
  /** osctl.yml nova_compute_driver: fake runs no hypervisor and no nova-libvirt. */
  novaComputeDriver: 'libvirt' | 'fake'
  /** osctl.yml nova_virt_type: auto lets each nova-libvirt probe KVM at start. */
  novaVirtType: 'auto' | 'kvm' | 'qemu'
  /** osctl.yml openstack_service_workers: processes per API service; undefined: one per core. */
  openstackServiceWorkers?: number
  /** osctl.yml keystone_api_workers (default: openstackServiceWorkers). */
  keystoneApiWorkers?: number
  sshHostKeyPolicy: 'strict' | 'accept-new'
  sshKnownHosts: string /* absolute */
  sshConcurrency: number
  /** osctl.yml image_pull_concurrency: downloads of absent images a deploy runs at once, across all hosts (apply/pull-queue.ts). */
  imagePullConcurrency: number
  /** osctl.yml rollback_standby: seconds an upgraded API's previous container stays loaded beside it (container-swap.ts keepStandby); 0 off. */
  rollbackStandbySeconds: number
  /** Existing Linux bridge on network hosts for the flat provider network physnet1 (floating IPs). */
  neutronExternalBridge: string
  /** external_network_* of osctl.yml: what `post-deploy --init-network` creates. */
  externalNetwork?: {cidr: string; gateway?: string; range?: string}
  /** osctl.yml internal_vip: when set, keepalived + haproxy run on the control hosts and every endpoint uses it. */
  internalVip?: string
  /** osctl.yml external_vip: the public endpoints' address (else internal_vip's). */
  externalVip?: string
  keepalivedVirtualRouterId: number
  /** osctl.yml enable_container_healthchecks and default_container_healthcheck_*: Docker's own check in each service container. */
  containerHealthcheck: ContainerHealthcheck
  /** osctl.yml tls: which parts speak TLS with the site CA (SITE/certificates): the registry, the APIs on each VIP. */
  tls: {registry: boolean; internal: boolean; external: boolean}
}

/** How Docker runs a service container's own check between deploys (not osctl's deploy gate). */
export interface ContainerHealthcheck {
  enabled: boolean
  intervalSeconds: number
  timeoutSeconds: number
  retries: number
  startPeriodSeconds: number
}

/** What a service container has always had: osctl.yml changes it only where it says otherwise. */
export const DEFAULT_CONTAINER_HEALTHCHECK: Readonly<ContainerHealthcheck> = Object.freeze({enabled: true, intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0})

export interface Site {
  dir: string /* absolute */
  config: SiteConfig
  /** In inventory.yml order. */
  hosts: SiteHost[]
  groups: Record<string, string[]>
  passwords: Record<string, string>
  /** May not exist on disk: operators create it only when they override something. */
  overridesDir: string
  files: Record<SiteFileKey, string>
  /**
   * `file:line:col` of a key path in one of the site files, for problems found after loading
   * (a dependency missing from enabled_services); the bare file when the site was not loaded from disk.
   */
  locate?(file: SiteFileKey, path: ReadonlyArray<string | number>, opts?: {key?: boolean}): string
}

export type SiteFileKey = 'config' | 'inventory' | 'passwords'
