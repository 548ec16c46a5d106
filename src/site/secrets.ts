import {OsctlError, OsctlErrors} from '../errors.js'
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

/**
 * Refuses (exit 2, before any host is touched) when a secret a step needs is absent: no secret
 * ever falls back to a built-in value. `users` names who needs each key, for the message.
 */
export function assertSecrets(site: Pick<Site, 'passwords' | 'files' | 'locate'>, users: Record<string, string[]>): void {
  const missing = Object.entries(users).filter(([key]) => !site.passwords[key])
  if (missing.length === 0) return
  throw new OsctlErrors(
    missing.map(
      ([key, by]) =>
        new OsctlError('CONFIG_INVALID', `password ${key} is missing from passwords.yml (needed by ${by.join(', ')})`, {
          location: site.files.passwords,
          hint: '`osctl genpwd` generates every missing password (existing ones are kept)',
          details: {missing: key},
        }),
    ),
  )
}


export {secretValue} from './secret-value.js'
