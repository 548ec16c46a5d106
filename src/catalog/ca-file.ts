import {apiTls} from '../certificates/api-tls.js'
import {CONTAINER_CACERT} from '../site/endpoints.js'
import type {Site} from '../site/types.js'
import type {TemplateVars} from './template-vars.js'

/**
 * The site CA as one more config file of a container whose rendered files, environment or steps
 * name it (openstack_cacert: every cafile option, OS_CACERT), installed at CONTAINER_CACERT by
 * osctl_start. Containers that never talk to an API over TLS (mariadb, memcached) do not get it,
 * so turning TLS on leaves them as they are.
 */
/** The CA's name among a container's config files (RenderedContainer.files). */
export const CA_CONFIG_FILE = 'osctl-ca.crt'

export function siteCaConfigFile(site: Site, vars: TemplateVars, texts: string[]): {name: string; text: string; dest: string} | undefined {
  if (!vars.openstack_cacert || !texts.some((t) => t.includes(CONTAINER_CACERT))) return undefined
  const tls = apiTls(site)
  return tls ? {name: CA_CONFIG_FILE, text: tls.ca, dest: CONTAINER_CACERT} : undefined
}
