import {internalAddress, urlHost} from './internal-address.js'
import type {Site} from './types.js'

/** Where a container finds the site CA when the APIs speak TLS (render.ts adds it to every container whose config names it). */
export const CONTAINER_CACERT = '/etc/osctl/tls/ca.crt'

export interface ApiEndpoints {
  /** `https://10.0.0.250` (no port): internal and admin endpoints, every service's auth_url. */
  internal: string
  /** The public endpoints: external_vip when set, else the internal address. */
  external: string
  internalTls: boolean
  externalTls: boolean
}

/**
 * kolla's internal_protocol/external_protocol with the VIPs: haproxy terminates TLS on a VIP
 * (tls.internal / tls.external), the backends behind it speak HTTP on the host's own address.
 * Without internal_vip there is no TLS (vip-checks.ts refuses it) and both are the first control host.
 */
export function apiEndpoints(site: Site, fallback?: string): ApiEndpoints {
  const internal = internalAddress(site) ?? fallback ?? '127.0.0.1'
  const vip = site.config.internalVip !== undefined
  const internalTls = vip && site.config.tls.internal
  const externalTls = vip && (site.config.externalVip ? site.config.tls.external : site.config.tls.internal)
  const external = site.config.externalVip ?? internal
  return {
    internal: `${internalTls ? 'https' : 'http'}://${urlHost(internal)}`,
    external: `${externalTls ? 'https' : 'http'}://${urlHost(external)}`,
    internalTls,
    externalTls,
  }
}
