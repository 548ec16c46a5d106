import {OsctlError} from '../errors.js'

/** [first, last] address of an IPv4 CIDR as 32-bit numbers; undefined for IPv6 or garbage. */
export function cidrRange(cidr: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr.trim())
  if (!m) return undefined
  const octets = m.slice(1, 5).map(Number)
  if (octets.some((o) => o > 255)) return undefined
  const bits = m[5] === undefined ? 32 : Number(m[5])
  if (bits > 32) return undefined
  const ip = octets.reduce((acc, o) => acc * 256 + o, 0)
  const size = 2 ** (32 - bits)
  const first = Math.floor(ip / size) * size
  return [first, first + size - 1]
}

export function overlaps(a: string, b: string): boolean {
  const ra = cidrRange(a)
  const rb = cidrRange(b)
  return ra !== undefined && rb !== undefined && ra[0] <= rb[1] && rb[0] <= ra[1]
}

/**
 * The first 10.213.X.0/24 no existing Docker network overlaps. Docker refuses overlapping pools,
 * and a lab must not shadow routes of other networks on this machine either.
 */
export function pickSubnet(used: string[], skip: ReadonlySet<string> = new Set()): string {
  for (let x = 0; x < 256; x++) {
    const candidate = `10.213.${x}.0/24`
    if (skip.has(candidate)) continue
    if (!used.some((u) => overlaps(candidate, u))) return candidate
  }
  throw new OsctlError('LAB', 'no free 10.213.X.0/24 subnet left for a lab network', {
    hint: 'remove unused labs with `osctl lab down --all` or unused Docker networks with `docker network prune`',
  })
}
