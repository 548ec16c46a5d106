/**
 * Services osctl knows how to deploy, in dependency order. `enabled_services` in osctl.yml is
 * checked against this list so a typo fails at load time, not halfway through a deploy.
 * When a service is added under templates/, add its name here (and its secrets to secrets.ts).
 */
export const KNOWN_SERVICES: readonly string[] = Object.freeze([
  'etcd',
  'registry',
  'mariadb',
  'memcached',
  'rabbitmq',
  'keystone',
  'glance',
  'placement',
  'nova',
  'nova-compute',
])
