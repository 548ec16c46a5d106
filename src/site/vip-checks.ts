import type {OsctlError} from '../errors.js'
import type {Site} from './types.js'
import type {YamlSource} from './yaml-source.js'

/**
 * internal_vip and external_vip must be addresses no host has: keepalived adds them to the
 * holder's interface and removes them when they move, which would take a host's own address away.
 * TLS on the APIs is terminated by haproxy on the VIPs, so it needs them; without external_vip the
 * public endpoints share internal_vip's ports, so both speak the same protocol.
 */
export function vipChecks(site: Site, config: YamlSource | undefined): OsctlError[] {
  if (!config) return []
  const {internalVip: vip, externalVip: ext, tls} = site.config
  const errors: OsctlError[] = []
  for (const [key, address] of [['internal_vip', vip], ['external_vip', ext]] as const) {
    const owner = address === undefined ? undefined : site.hosts.find((h) => h.address === address)
    if (owner) errors.push(config.error(`${key} ${address} is the address of host ${owner.name}`, 'pick a free address on the api_interface network: keepalived moves the VIP between the control hosts', [key]))
  }
  if (ext !== undefined && vip === undefined) errors.push(config.error('external_vip is set without internal_vip', 'set internal_vip too: haproxy and keepalived run only with it', ['external_vip']))
  if (ext !== undefined && ext === vip) errors.push(config.error(`external_vip is internal_vip (${ext})`, 'leave external_vip out: the public endpoints then use internal_vip', ['external_vip']))
  for (const part of ['internal', 'external'] as const) {
    if (tls[part] && vip === undefined) errors.push(config.error(`tls.${part} is on without internal_vip`, 'haproxy on the VIP terminates TLS for the APIs: set internal_vip (and run `osctl certificates`)', ['tls', part]))
  }
  if (vip !== undefined && ext === undefined && tls.internal !== tls.external) {
    const on = tls.internal ? 'internal' : 'external'
    errors.push(
      config.error(
        `tls.${on} is on but tls.${on === 'internal' ? 'external' : 'internal'} is not, and both endpoints use internal_vip`,
        'without external_vip the public endpoints share internal_vip\'s ports: set both tls.internal and tls.external, or set external_vip',
        ['tls', on],
      ),
    )
  }
  return errors
}
