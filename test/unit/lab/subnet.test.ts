import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {gatewayAddress, hostAddress, labNames} from '../../../src/lab/names.js'
import {cidrRange, overlaps, pickSubnet} from '../../../src/lab/subnet.js'

describe('lab subnet picking', () => {
  it('takes 10.213.0.0/24 when nothing uses 10.213.x', () => {
    expect(pickSubnet(['172.17.0.0/16', '172.18.0.0/16'])).toBe('10.213.0.0/24')
  })

  it('skips every /24 an existing network overlaps, whatever its prefix length', () => {
    expect(pickSubnet(['10.213.0.0/24', '10.213.1.0/24'])).toBe('10.213.2.0/24')
    // A /23 covers two /24s, a single address still blocks its /24.
    expect(pickSubnet(['10.213.0.0/23', '10.213.2.7/32'])).toBe('10.213.3.0/24')
    // A wider network swallowing the whole 10.213.0.0/16 leaves nothing.
    expect(() => pickSubnet(['10.0.0.0/8'])).toThrow(OsctlError)
  })

  it('ignores IPv6 and malformed subnets instead of failing on them', () => {
    expect(pickSubnet(['fd00::/64', 'garbage', '300.1.1.1/24'])).toBe('10.213.0.0/24')
  })

  it('skips candidates that lost a creation race', () => {
    expect(pickSubnet([], new Set(['10.213.0.0/24']))).toBe('10.213.1.0/24')
  })

  it('computes ranges and overlaps', () => {
    expect(cidrRange('10.213.5.77/24')).toEqual([(10 * 256 ** 3) + (213 * 256 ** 2) + 5 * 256, (10 * 256 ** 3) + (213 * 256 ** 2) + 5 * 256 + 255])
    expect(overlaps('10.213.5.0/24', '10.213.0.0/16')).toBe(true)
    expect(overlaps('10.213.5.0/24', '10.213.6.0/24')).toBe(false)
  })

  it('names hosts, containers, volumes and addresses predictably', () => {
    const n = labNames('t1')
    expect([n.network, n.container(2), n.hostname(2), n.volume(2)]).toEqual(['osctl-t1', 'osctl-t1-2', 't1-2', 'osctl-t1-2-docker'])
    expect(hostAddress('10.213.7.0/24', 1)).toBe('10.213.7.11')
    expect(hostAddress('10.213.7.0/24', 5)).toBe('10.213.7.15')
    expect(gatewayAddress('10.213.7.0/24')).toBe('10.213.7.1')
  })
})
