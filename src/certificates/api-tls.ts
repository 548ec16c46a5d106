import {join} from 'node:path'

import {OsctlError} from '../errors.js'
import {apiEndpoints} from '../site/endpoints.js'
import type {Site} from '../site/types.js'
import {readServingCert} from './check-cert.js'
import {registryTls, siteCaFile} from './registry-tls.js'

/** What haproxy serves the APIs with: the site CA, and one certificate naming every VIP (key appended, haproxy's PEM). */
export interface ApiTls {
  ca: string
  pem: string
  /** Content hash of the three files. */
  id: string
}

/** SITE/certificates/api/api.crt and api.key: issued by `osctl certificates` when the site has internal_vip. */
export const apiCertFiles = (site: Pick<Site, 'dir'>) => ({cert: join(site.dir, 'certificates', 'api', 'api.crt'), key: join(site.dir, 'certificates', 'api', 'api.key')})

/** The addresses the API certificate names: each VIP the site sets. */
export const apiVips = (site: Site): string[] => [site.config.internalVip, site.config.externalVip].filter((v): v is string => v !== undefined)

const cache = new WeakMap<Site, ApiTls | undefined>()

/**
 * The files haproxy needs when an API speaks TLS (tls.internal / tls.external), read and checked
 * (issued by the site CA, its own key, naming every VIP), else undefined. Sync and local: callers
 * check it before any host is touched; read once per site.
 */
export function apiTls(site: Site): ApiTls | undefined {
  if (cache.has(site)) return cache.get(site)
  const e = apiEndpoints(site)
  const tls = e.internalTls || e.externalTls ? readApiTls(site) : undefined
  cache.set(site, tls)
  return tls
}

function readApiTls(site: Site): ApiTls {
  const key = site.config.tls.internal ? 'internal' : 'external'
  const missing = (what: string, detail: string) =>
    new OsctlError('CONFIG_MISSING', `tls.${key} is on, but ${what}: ${detail}`, {
      location: site.locate?.('config', ['tls', key]) ?? site.files.config,
      hint: 'Run `osctl certificates` (the site CA and the API certificate for the VIPs), or turn tls.internal and tls.external off in osctl.yml.',
    })
  const files = {ca: siteCaFile(site), ...apiCertFiles(site)}
  const found = readServingCert(files, missing)
  for (const vip of apiVips(site)) {
    if (!found.x509.checkIP(vip)) throw missing(`${files.cert} does not name ${vip}`, `it names ${found.x509.subjectAltName ?? 'nothing'}; run \`osctl certificates\` to issue it again`)
  }
  return {ca: found.ca, pem: `${found.cert.trimEnd()}\n${found.key.trimEnd()}\n`, id: found.id}
}

/**
 * Every certificate file osctl.yml's tls asks for (registry, APIs), checked on this machine: a
 * command that would use them calls it before taking the site lock, so bad input touches no host.
 */
export function checkSiteTls(site: Site): void {
  registryTls(site)
  apiTls(site)
}
