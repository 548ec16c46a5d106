import {z} from 'zod'

import type {SchemaDocs} from '../site/zod-issues.js'

/**
 * templates/<service>/service.yml: one OpenStack service as osctl deploys it. Strings in command,
 * environment, health and volumes are nunjucks templates rendered per host with the same variables
 * as the config templates (see render.ts), so a new service is only YAML and .njk files.
 */
const NAME = /^[a-z][a-z0-9_-]*$/
const name = z.string().regex(NAME, 'must be lower-case letters, digits, _ and - (starting with a letter)')
const octal = z.string().regex(/^0?[0-7]{3,4}$/, 'must be an octal mode in quotes, e.g. "0640"')
const GROUP = z.enum(['control', 'network', 'compute'])
const argv = z.union([z.string().min(1), z.array(z.string()).min(1)])

const configFile = z.strictObject({
  /** A .njk file next to service.yml. */
  template: z.string().min(1),
  /** Name in the rendered config dir; default: the template name without .njk. */
  file: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a plain file name').optional(),
  dest: z.string().startsWith('/', 'must be an absolute path inside the container'),
  owner: z.string().min(1).optional(),
  perm: octal.optional(),
})

const permission = z.strictObject({
  path: z.string().startsWith('/', 'must be an absolute path inside the container'),
  owner: z.string().min(1).optional(),
  perm: octal.optional(),
  recurse: z.boolean().optional(),
})

/** The kinds of check, as `health` (with a timeout) and `monitor` (without) take them. */
const httpCheck = z.strictObject({http: z.string().min(1)})
const tcpCheck = z.strictObject({tcp: z.string().min(1)})
/** A shell command run in the container (docker exec), exit 0 = healthy: for services that listen on no port (nova-conductor). */
const execCheck = z.strictObject({exec: z.string().min(1)})
/**
 * `health`: one of `http`, `tcp`, `exec` and `connected`, or `tcp` or `connected` with `exec`
 * (catalog.ts checks the combination, naming the line). One object rather than a union of them,
 * so that a misspelt key is reported as such (`timout`: did you mean timeout?).
 * - `connected: PROCESS:PORT`: a process of the container whose command line contains `bin/PROCESS`
 *   has an established TCP connection to PORT (nova-conductor on the bus: `nova-conductor:5672`).
 *   osctl reads it from the host (the container's /proc: its processes, their sockets, its TCP
 *   table), about a sixth of what a `docker exec` of the same check costs; a gate only (Docker's
 *   own check runs in the container: such a container gives a `monitor`).
 * - `tcp` or `connected` with `exec`: the host-side check until it holds, the command in the
 *   container only then (rabbitmq: its listener opens late in a 20-30 s start, and only then is its
 *   cluster membership worth an Erlang VM per call; nova-compute: on the bus, then libvirtd
 *   answers). An exec that renders empty (a template's `{% if %}` without its case) is none.
 */
const health = z.strictObject({
  http: z.string().min(1).optional(),
  tcp: z.string().min(1).optional(),
  exec: z.string().optional(),
  connected: z.string().min(1).optional(),
  timeout: z.int().min(1).max(1800).optional(),
})
/** The combinations `health` takes (catalog.ts). */
export const HEALTH_FORMS = [['http'], ['tcp'], ['exec'], ['connected'], ['tcp', 'exec'], ['connected', 'exec']] as const

/**
 * The check Docker repeats every 30 s between deploys (`docker ps` shows it), when the gate is too
 * costly to repeat forever: rabbitmq's gate starts an Erlang VM (about 1 s of CPU) per call. A
 * liveness check: deploy still gates a new or restarted container on `health`, while a container a
 * deploy leaves alone counts as healthy when Docker's last run of its monitor says so.
 * Absent: Docker repeats the gate itself.
 */
const monitor = z.union([httpCheck, tcpCheck, execCheck])

const container = z.strictObject({
  name,
  /** images/<image>/ builds it; pulled as <registry>/<namespace>/<image>:<image_tag>. */
  image: name,
  /** osctl_start's `command` (config.json); the container itself always runs the image's osctl_start. */
  command: argv,
  /** osctl_start switches to this user after installing the config files. */
  user: z.string().min(1).optional(),
  config: z.array(configFile).default([]),
  permissions: z.array(permission).default([]),
  /** `volume:/path[:ro]` named volumes (data that outlives containers) or `/host:/path[:ro]`. */
  /** `:shared`/`:slave` (and r-): mount propagation, e.g. /run/netns that agents' namespaces must outlive a restart on. */
  volumes: z.array(z.string().regex(/^[^:\s]+:\/[^:\s]*(:(ro|rw|shared|rshared|slave|rslave)(,(ro|rw|shared|rshared|slave|rslave))*)?$/, 'must be NAME:/path or /host/path:/path, optionally :ro, :rw, :shared, :slave (comma-separated)')).default([]),
  environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).default({}),
  health,
  monitor: monitor.optional(),
  // Privileges, for the few containers that manage the host (neutron agents, libvirt). `--privileged`
  // is not offered: it is refused on some engines, and a list says what a container really needs.
  cap_add: z.array(z.string().regex(/^[A-Z_]+$/, 'must be a capability name such as NET_ADMIN')).default([]),
  /** Host devices (same path inside); each must exist on the host. */
  devices: z.array(z.string().regex(/^\/dev\/[^\s:]+$/, 'must be a /dev path')).default([]),
  /** Device cgroup rules such as "c 10:232 rwm" (/dev/kvm), for devices that exist on some hosts only (with a /dev bind). */
  device_cgroup_rules: z.array(z.string().regex(/^[abc] (\d+|\*):(\d+|\*) [rwm]{1,3}$/, 'must be a rule such as "c 10:232 rwm"')).default([]),
  security_opt: z.array(z.string().min(1)).default([]),
  pid: z.enum(['host']).optional(),
  cgroupns: z.enum(['host', 'private']).optional(),
  /** TCP ports it listens on (host network): `osctl prechecks` wants them free, or held by this container. */
  ports: z.array(z.int().min(1).max(65535)).default([]),
  /** About how long it takes from start to healthy on a small host: a hint for deploy's order (work-ahead.ts), never a limit. Default 10. */
  expected_seconds: z.number().positive().max(3600).optional(),
})

/** Steps osctl carries out itself instead of a command in a one-shot container (`run`). */
export const BUILTIN_STEPS = ['keystone-register'] as const

const bootstrapStep = z.strictObject({
  name,
  /**
   * Runs from this container's image, with its config, volumes and environment; for a `run` step,
   * the container whose config it belongs to (a change of that config runs it again).
   */
  container: name,
  /** The step's command; exactly one of `command` and `run`. */
  command: argv.optional(),
  /**
   * Carried out by osctl itself, from the host's network, with the step's `environment` as its
   * input: `keystone-register` (src/apply/keystone-register.ts; the keys it reads are in
   * templates/placement/service.yml). No container to start, no client to load.
   */
  run: z.enum(BUILTIN_STEPS).optional(),
  user: z.string().min(1).optional(),
  /** Only on the first host of the service's group (schema migrations, keystone-manage bootstrap). */
  once: z.boolean().default(false),
  /**
   * Paths in the image whose content decides whether the step runs again (a db sync: the
   * migrations). Without it any new image runs the step again; [] : the image never does (only its
   * config and the step itself count, e.g. a keystone registration).
   */
  image_paths: z.array(z.string().regex(/^\/[^\s'"\\]*$/, 'must be an absolute path without spaces or quotes')).optional(),
  environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).default({}),
  /**
   * The services (among `depends`) this step needs: deploy runs it as soon as they are up, not
   * after every dependency (a db sync needs mariadb, not keystone). A step without it, and the
   * service's containers, wait for all of `depends`. Steps still run in their order.
   */
  needs: z.array(name).min(1).optional(),
  /**
   * About how long the step takes on a small host: a hint for deploy's order (the service with the
   * most work ahead gets a free slot first, work-ahead.ts), never a limit. Default 5.
   */
  expected_seconds: z.number().positive().max(3600).optional(),
  /**
   * Runs beside the service's other steps as soon as what it `needs` is up, instead of after the
   * steps before it. `steps`: the containers still wait for it (nova's registration beside its db
   * sync: nova-scheduler logs in as nova at its start). `containers`: beside the new containers
   * too, nothing of the service waits for it, only its dependents do (the service is done once it
   * is): a keystone registration whose API's start does not need it (placement's loads while
   * keystone's does). A swap of running containers (an upgrade, a changed config) still waits for
   * it, so a failed step leaves them as they were.
   */
  beside: z.enum(['steps', 'containers']).optional(),
})

/**
 * Runs on the first host of the service once the whole deploy has converged (every service, every
 * host), when anything changed in that deploy or the step never succeeded with this image and config:
 * e.g. nova's cell_v2 discover_hosts, which needs the computes deployed after nova itself.
 */
const postDeployStep = bootstrapStep.omit({once: true, image_paths: true, needs: true, expected_seconds: true, beside: true, run: true}).extend({
  command: argv,
  /**
   * Container names (of any service) that trigger the step: it runs again only when one of them was
   * created, recreated or started in the deploy (on any host), or when it has not succeeded with its
   * command and its container's config; a new image of its own container alone does not rerun it.
   * `after: [nova-compute]`: discover_hosts when a compute may have joined, not on a nova-api upgrade.
   */
  after: z.array(name).min(1).optional(),
})

export const serviceSchema = z.strictObject({
  name,
  description: z.string().default(''),
  /** The inventory group(s) whose hosts run it; `network` defaults to the control hosts. */
  group: z.union([GROUP, z.array(GROUP).min(1)]).transform((g) => (Array.isArray(g) ? [...new Set(g)] : [g])),
  /** `first`: one instance, on the first host of the group (no clustering yet); `all`: every host. */
  hosts: z.enum(['all', 'first']).default('all'),
  /**
   * A clustered service: on every host of its group when the site has an internal_vip (else on the
   * first only, group-hosts.ts); its hosts change one at a time, first host first, each
   * health-gated before the next, so the cluster keeps quorum. `galera`: deploy also bootstraps a new cluster on the
   * first host when no host has any (src/apply/galera.ts); `rabbitmq`: nodes join the first host's.
   */
  cluster: z.enum(['galera', 'rabbitmq']).optional(),
  depends: z.array(name).default([]),
  /**
   * The services (among `depends`) its containers need up before they start; default all of
   * `depends`. nova calls glance only when asked to (a server being created), so its containers
   * start beside glance's instead of after them (its steps still run first).
   */
  containers_need: z.array(name).min(1).optional(),
  /** passwords.yml keys the templates use (database passwords are added from `databases`). */
  secrets: z.array(z.string().min(1)).default([]),
  databases: z.array(z.strictObject({name, user: z.string().regex(/^[A-Za-z0-9_]{1,32}$/, 'must be a MariaDB user name'), password: z.string().min(1)})).default([]),
  containers: z.array(container).min(1),
  bootstrap: z.array(bootstrapStep).default([]),
  post_deploy: z.array(postDeployStep).default([]),
})

export type ServiceFile = z.output<typeof serviceSchema>
export type ContainerDef = ServiceFile['containers'][number]
export type BootstrapStepDef = ServiceFile['bootstrap'][number]

/** What the containers of a service wait for: `containers_need`, else all it depends on. */
export const containersNeed = (def: Pick<ServiceFile, 'containers_need' | 'depends'>): string[] => def.containers_need ?? def.depends

/**
 * What a deploy of the service waits for, its phases together: each bootstrap step's `needs` (else
 * all of `depends`) and what its containers need. Once it is done these are, and nothing else
 * need be: "it and all it needs" is the closure of this, not of `depends` (nova: not glance).
 */
export const waitsFor = (def: {bootstrap: Array<{needs?: string[]}>} & Pick<ServiceFile, 'depends' | 'containers_need'>): string[] => [
  ...new Set([...def.bootstrap.flatMap((b) => b.needs ?? def.depends), ...containersNeed(def)]),
]

/** The services a deploy of this one starts after: what its first bootstrap step `needs` (else all it depends on), or without steps what its containers need. */
export const startsAfter = (def: {bootstrap: Array<{needs?: string[]}>} & Pick<ServiceFile, 'depends' | 'containers_need'>): string[] =>
  def.bootstrap.length > 0 ? (def.bootstrap[0].needs ?? def.depends) : containersNeed(def)
export type PostDeployStepDef = ServiceFile['post_deploy'][number]
export type HealthDef = ContainerDef['health']

const HINTS: Record<string, {what?: string; hint: string}> = {
  name: {hint: 'the service name, the same as its folder under templates/'},
  group: {hint: 'the inventory group(s) whose hosts run it: control, network or compute, or a list such as [network, compute]'},
  cap_add: {what: 'a list of capability names', hint: 'e.g. `cap_add: [NET_ADMIN, NET_RAW]`'},
  devices: {what: 'a list of /dev paths', hint: 'e.g. `devices: [/dev/net/tun]`'},
  device_cgroup_rules: {what: 'a list of device cgroup rules', hint: 'e.g. `device_cgroup_rules: ["c 10:232 rwm"]`'},
  hosts: {hint: '`all` (every host of the group) or `first` (one instance on the first host)'},
  cluster: {hint: '`galera` or `rabbitmq`: the hosts change one at a time, first host first'},
  depends: {what: 'a list of service names', hint: 'services that must be deployed and healthy first, e.g. `depends: [mariadb]`'},
  secrets: {what: 'a list of passwords.yml keys', hint: 'e.g. `secrets: [keystone_admin_password]`'},
  databases: {what: 'a list of {name, user, password}', hint: 'e.g. `databases: [{name: keystone, user: keystone, password: keystone_database_password}]`'},
  containers: {what: 'a list of containers', hint: 'each container needs name, image, command and health'},
  image: {hint: 'an image folder name under images/, e.g. `image: keystone`'},
  command: {hint: 'the service command as a string or a list, e.g. `command: uwsgi --ini /etc/keystone/keystone-uwsgi.ini`'},
  template: {hint: 'a .njk file next to service.yml'},
  dest: {hint: 'where osctl_start installs the file inside the container, e.g. `dest: /etc/keystone/keystone.conf`'},
  perm: {hint: 'quote octal modes, e.g. `perm: "0640"`'},
  volumes: {what: 'a list of NAME:/path', hint: 'e.g. `volumes: ["mariadb:/var/lib/mysql"]`'},
  health: {what: '{http: URL}, {tcp: ADDRESS:PORT}, {exec: COMMAND}, {connected: PROCESS:PORT}, or tcp or connected with exec (the host-side check first)', hint: 'e.g. `health: {http: "http://{{ api_address }}:5000/v3"}`, `health: {tcp: "{{ api_address }}:3306"}`, `health: {exec: "pgrep -f nova-conductor"}` or `health: {connected: "nova-conductor:5672"}`'},
  monitor: {what: '{http: URL}, {tcp: ADDRESS:PORT} or {exec: COMMAND}', hint: 'a cheaper check for Docker to repeat every 30 s than the deploy gate, e.g. `monitor: {tcp: "{{ api_address }}:5672"}`'},
  bootstrap: {what: 'a list of {name, container, command}', hint: 'one-shot steps, e.g. `- {name: db-sync, container: keystone, command: keystone-manage db_sync, once: true}`'},
  post_deploy: {what: 'a list of {name, container, command}', hint: 'steps after the whole deploy, e.g. `- {name: discover-hosts, container: nova-api, command: nova-manage cell_v2 discover_hosts}`'},
  beside: {hint: '`steps` (beside the service’s other steps; its containers wait for it) or `containers` (beside its new containers too), e.g. `beside: containers` for a keystone registration'},
  after: {what: 'a list of container names', hint: 'the containers whose creation or start reruns the step, e.g. `after: [nova-compute]`'},
  container: {hint: 'the name of one of this service’s containers'},
  ports: {what: 'a list of TCP port numbers', hint: 'the ports the container listens on, e.g. `ports: [5000]`'},
}

export const serviceDocs: SchemaDocs = {
  knownKeysAt(path) {
    if (path.length === 0) return Object.keys(serviceSchema.shape)
    if (path[0] === 'containers' && path.length === 2) return Object.keys(container.shape)
    if (path[0] === 'containers' && path[2] === 'config') return Object.keys(configFile.shape)
    if (path[0] === 'containers' && path[2] === 'permissions') return Object.keys(permission.shape)
    if (path[0] === 'containers' && path[2] === 'health') return ['http', 'tcp', 'exec', 'connected', 'timeout']
    if (path[0] === 'containers' && path[2] === 'monitor') return ['http', 'tcp', 'exec']
    if (path[0] === 'bootstrap') return Object.keys(bootstrapStep.shape)
    if (path[0] === 'post_deploy') return Object.keys(postDeployStep.shape)
    if (path[0] === 'databases') return ['name', 'user', 'password']
    return []
  },
  fallbackHint: 'see the service.yml format in src/catalog/catalog-schema.ts',
  fields: HINTS,
}
