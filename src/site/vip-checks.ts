import type {OsctlError} from '../errors.js'
import type {Site} from './types.js'
import type {YamlSource} from './yaml-source.js'

/**
 * internal_vip must be an address no host has: keepalived adds it to the holder's interface and
 * removes it when the VIP moves, which would take a host's own address away.
 */
export function vipChecks(site: Site, config: YamlSource | undefined): OsctlError[] {
  const vip = site.config.internalVip
  if (!vip || !config) return []
  const owner = site.hosts.find((h) => h.address === vip)
  if (!owner) return []
  return [config.error(`internal_vip ${vip} is the address of host ${owner.name}`, 'pick a free address on the api_interface network: keepalived moves the VIP between the control hosts', ['internal_vip'])]
}
