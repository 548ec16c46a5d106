import {serviceRegistry} from './service-registry.js'
import type {Site} from './types.js'

/**
 * Every secret the service catalog and the system containers need, by its key in passwords.yml,
 * read from where each is declared (service.yml `secrets` and database passwords, the system
 * container definitions). `osctl genpwd` fills whatever is missing, and deploy refuses to start
 * while any of them is absent (see missingSecrets).
 */
export function requiredSecrets(): readonly string[] {
  return serviceRegistry().secrets
}

/** Required secrets the site's passwords.yml does not define (empty values count as missing). */
export function missingSecrets(site: Pick<Site, 'passwords'>): string[] {
  return requiredSecrets().filter((name) => !site.passwords[name])
}
