import type {Site} from './types.js'

/**
 * Where every "internal" endpoint points (kolla_internal_vip_address): the VIP when osctl.yml sets
 * internal_vip (haproxy on each control host serves it), else the first control host.
 */
export function internalAddress(site: Site): string | undefined {
  if (site.config.internalVip) return site.config.internalVip
  return site.hosts.find((h) => h.groups.includes('control'))?.address
}

/** An address as the host part of a URL (IPv6 literals in brackets). */
export const urlHost = (address: string) => (address.includes(':') ? `[${address}]` : address)
