import type {RegistryTls} from '../certificates/registry-tls.js'
import {secretValue} from '../site/secret-value.js'
import type {SiteConfig} from '../site/types.js'
import {SYSTEM_DATA_DIR} from './layout.js'
import {haproxy, keepalived} from './load-balancer.js'

/**
 * The system containers: core services that must run before Docker exists (Atomic's idea).
 * Each is an OCI bundle under runc, driven by a generated systemd unit.
 */
export interface SystemContext {
  /** Inventory name of the host the container runs on. */
  host: string
  /** The host's address on the management network. */
  address: string
  /** Every host running the same system container (for clusters such as etcd). */
  peers: Array<{name: string; address: string}>
  passwords: Record<string, string>
  registryPort: number
  /** The load balancer's inputs (osctl.yml internal_vip set): see load-balancer.ts. */
  lb?: LoadBalancerContext
  /** Set for the registry when osctl.yml says `tls: {registry: true}`. */
  registryTls?: RegistryTls
  /** etcd on a control host joining a running cluster (membership/etcd-join.ts): the cluster as its members know it. */
  etcdJoin?: {initialCluster: string}
}

export interface LoadBalancerContext {
  vip: string
  /** osctl.yml external_vip: held with the internal one; haproxy serves the HTTP APIs on it too. */
  externalVip?: string
  /** haproxy's PEM (certificate + key) when an API speaks TLS, and on which VIP (tls.internal / tls.external). */
  tls?: {pem: string; internal: boolean; external: boolean}
  /** api_interface: where keepalived adds the VIP and sends VRRP. */
  interface: string
  virtualRouterId: number
  /** One per API the site enables, with the hosts that serve it. */
  frontends: Array<{name: string; port: number; check: string; backends: Array<{name: string; address: string}>; activeBackup?: boolean; retryAnyMethod?: boolean; tcp?: boolean; agentPort?: number}>
}

export type HealthCheck =
  | {
      /** An HTTP URL polled from the host itself; 2xx means healthy. */
      url: string
      /** A string the body must contain (etcd answers 200 with `"health":"false"` when it has no quorum). */
      bodyIncludes?: string
      /** An https URL: the server's certificate must verify against this CA (PEM) and name the URL's host. */
      tls?: {ca: string}
      /**
       * Also healthy when this one passes: a revision from before a configuration change (plain
       * HTTP before TLS) that a rollback returns to is checked the way it serves.
       */
      orElse?: HealthCheck
    }
  | {
      /** A shell script run on the host; exit 0 means healthy, its last output line is the detail. */
      script: string
      what: string
    }

export interface BindMount {
  source: string
  destination: string
  readonly?: boolean
}

export interface SystemContainerDef {
  name: string
  /** images/<image>/ builds it. */
  image: string
  /** Inventory group whose hosts run it. */
  group: string
  description: string
  /** Keys in passwords.yml it needs (genpwd creates them; bootstrap refuses without them). */
  secrets: string[]
  ports: number[]
  /** Ports it listens on at another address (haproxy on the VIP): not required free, but its own while it runs. */
  vipPorts?: number[]
  args(ctx: SystemContext): string[]
  env(ctx: SystemContext): string[]
  /** Data lives outside the slots so an upgrade or rollback keeps it. */
  mounts(ctx: SystemContext): BindMount[]
  health(ctx: SystemContext): HealthCheck
  /** Seconds a new revision gets to become healthy before it is rolled back. */
  healthTimeoutSeconds: number
  /** Ordered before docker.service (default true): at shutdown that means stopped after every service container. */
  beforeDocker?: boolean
  /**
   * Static units (files in units/) written once it runs healthy (when the host's copy differs),
   * enabled and started on every apply, removed with it; not part of a revision (a rollback keeps them).
   */
  companionUnits?: string[]
  /** Runs only on sites where this holds (default: always). */
  enabled?(config: SiteConfig): boolean
  /** Capabilities beyond the default set (oci-spec.ts), e.g. CAP_NET_ADMIN for keepalived. */
  /** Variables the process reads only on its first start (etcd's initial cluster): left out of the spec hash, so they never restart it. */
  firstStartEnv?: string[]
  capabilities?: string[]
  /** RLIMIT_NOFILE for the process (umoci's default is 1024). */
  nofile?: number
  /**
   * Config files osctl renders (name → text), mounted read-only at `configDir`. They belong to the
   * revision: a change is a new revision, and a rollback returns to the files it ran with. Names
   * ending in `.key` are written 0600. Undefined: none (and no mount).
   */
  configDir?: string
  files?(ctx: SystemContext): Record<string, string> | undefined
}

export {SYSTEM_DATA_DIR} from './layout.js'

const etcd: SystemContainerDef = {
  name: 'etcd',
  secrets: ['etcd_cluster_token'],
  image: 'etcd',
  group: 'control',
  description: 'etcd key-value store (cluster across the control hosts)',
  ports: [2379, 2380],
  // Configured through ETCD_* variables, not flags: etcd refuses a flag that shadows a variable
  // the image sets, and the environment overrides the image's cleanly.
  args: () => ['/usr/bin/etcd'],
  env(ctx) {
    const cluster = ctx.peers.map((p) => `${p.name}=http://${p.address}:2380`).join(',')
    return [
      `ETCD_NAME=${ctx.host}`,
      'ETCD_DATA_DIR=/var/lib/etcd',
      `ETCD_LISTEN_CLIENT_URLS=http://${ctx.address}:2379,http://127.0.0.1:2379`,
      `ETCD_ADVERTISE_CLIENT_URLS=http://${ctx.address}:2379`,
      `ETCD_LISTEN_PEER_URLS=http://${ctx.address}:2380`,
      `ETCD_INITIAL_ADVERTISE_PEER_URLS=http://${ctx.address}:2380`,
      `ETCD_INITIAL_CLUSTER=${ctx.etcdJoin?.initialCluster ?? cluster}`,
      `ETCD_INITIAL_CLUSTER_STATE=${ctx.etcdJoin ? 'existing' : 'new'}`,
      `ETCD_INITIAL_CLUSTER_TOKEN=${secretValue(ctx.passwords, 'etcd_cluster_token')}`,
    ]
  },
  // etcd reads these only while its data dir is empty: a control host added later changes them on
  // the others, which must not restart for it.
  firstStartEnv: ['ETCD_INITIAL_CLUSTER', 'ETCD_INITIAL_CLUSTER_STATE'],
  mounts: () => [{source: `${SYSTEM_DATA_DIR}/etcd`, destination: '/var/lib/etcd'}],
  health: () => ({url: 'http://127.0.0.1:2379/health', bodyIncludes: '"health":"true"'}),
  healthTimeoutSeconds: 60,
}

const registry: SystemContainerDef = {
  name: 'registry',
  secrets: ['registry_http_secret'],
  image: 'registry',
  group: 'deploy',
  description: 'image registry (Docker distribution) serving the site images',
  ports: [4000],
  args: () => ['/usr/bin/docker-registry', 'serve', '/etc/docker/registry/config.yml'],
  env: (ctx) => [
    `REGISTRY_HTTP_ADDR=0.0.0.0:${ctx.registryPort}`,
    `REGISTRY_HTTP_SECRET=${secretValue(ctx.passwords, 'registry_http_secret')}`,
    'REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/docker-registry',
    ...(ctx.registryTls ? ['REGISTRY_HTTP_TLS_CERTIFICATE=/etc/docker/registry/tls/registry.crt', 'REGISTRY_HTTP_TLS_KEY=/etc/docker/registry/tls/registry.key'] : []),
  ],
  mounts: () => [{source: `${SYSTEM_DATA_DIR}/registry`, destination: '/var/lib/docker-registry'}],
  // tls.registry: the deploy host's certificate and key, owned by the revision like any config
  // file, so new files are a new revision and a rollback returns to the ones it ran with.
  configDir: '/etc/docker/registry/tls',
  files: (ctx) => (ctx.registryTls ? {'registry.crt': ctx.registryTls.cert, 'registry.key': ctx.registryTls.key} : undefined),
  health(ctx) {
    const plain = {url: `http://127.0.0.1:${ctx.registryPort}/v2/`}
    if (!ctx.registryTls) return plain
    return {url: `https://127.0.0.1:${ctx.registryPort}/v2/`, tls: {ca: ctx.registryTls.ca}, orElse: plain}
  },
  healthTimeoutSeconds: 30,
}

// haproxy before keepalived: keepalived's check needs haproxy answering, or it stays in FAULT.
export const SYSTEM_CONTAINERS: readonly SystemContainerDef[] = [registry, etcd, haproxy, keepalived]

export function systemContainer(name: string): SystemContainerDef | undefined {
  return SYSTEM_CONTAINERS.find((d) => d.name === name)
}
