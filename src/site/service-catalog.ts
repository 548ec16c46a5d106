import {serviceRegistry} from './service-registry.js'

/**
 * Services osctl knows how to deploy, in dependency order: the system containers, then every
 * templates/<svc>/service.yml. `enabled_services` in osctl.yml is checked against this list so a
 * typo fails at load time, not halfway through a deploy. Read on first use, not at import.
 */
export function knownServices(): readonly string[] {
  return serviceRegistry().services
}
