import type {Site} from './types.js'

/**
 * Every secret the service catalog needs, by its key in passwords.yml. This is the single list:
 * a new service adds its secrets here, `osctl genpwd` fills whatever is missing, and deploy
 * refuses to start while any of them is absent (see missingSecrets).
 */
export const REQUIRED_SECRETS: readonly string[] = Object.freeze([
  // mariadb root
  'database_password',
  'rabbitmq_password',
  'memcache_secret_key',
  'keystone_admin_password',
  'keystone_database_password',
  // keystone's fernet and credential keys are derived from these on every control host alike
  'keystone_fernet_seed',
  'keystone_credential_seed',
  'glance_database_password',
  'glance_keystone_password',
  'placement_database_password',
  'placement_keystone_password',
  'nova_database_password',
  'nova_api_database_password',
  'nova_keystone_password',
  'etcd_cluster_token',
  'registry_http_secret',
])

/** Required secrets the site's passwords.yml does not define (empty values count as missing). */
export function missingSecrets(site: Pick<Site, 'passwords'>): string[] {
  return REQUIRED_SECRETS.filter((name) => !site.passwords[name])
}
