import {isIPv4, isIPv6} from 'node:net'

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i

/**
 * Whether `value` is something SSH and Docker can dial: an IPv4 or IPv6 literal or a DNS name.
 * A dotted all-numeric string that is not valid IPv4 (10.0.0.256) is rejected instead of being
 * taken as a DNS name, because it is always a typo.
 */
export function isHostAddress(value: string): boolean {
  if (isIPv4(value) || isIPv6(value)) return true
  if (/^[0-9.]+$/.test(value)) return false
  const name = value.endsWith('.') ? value.slice(0, -1) : value
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => DNS_LABEL.test(label))
}

/** `host:port` as Docker writes registry references; IPv6 hosts need brackets (`[fd00::2]:4000`). */
export function isHostPort(value: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  if (!m) return false
  const port = Number(m[3])
  if (port < 1 || port > 65535) return false
  return m[1] !== undefined ? isIPv6(m[1]) : isHostAddress(m[2])
}
