import {describe, expect, it} from 'vitest'

import {groupHosts} from '../../../src/catalog/group-hosts.js'
import {serviceSchema} from '../../../src/catalog/catalog-schema.js'
import type {SiteHost} from '../../../src/site/types.js'

const host = (name: string, groups: string[]): SiteHost => ({name, address: name, ssh: {user: 'root', port: 22}, groups})
const names = (hs: SiteHost[]) => hs.map((h) => h.name)
const group = (g: unknown) => serviceSchema.shape.group.parse(g)

describe('which hosts run a service', () => {
  const hosts = [host('ctl-1', ['deploy', 'control']), host('ctl-2', ['control']), host('cmp-1', ['compute']), host('cmp-2', ['compute'])]

  it('takes one group or a list, without repeats', () => {
    expect(group('compute')).toEqual(['compute'])
    expect(group(['network', 'compute', 'network'])).toEqual(['network', 'compute'])
    expect(() => group('storage')).toThrow()
    expect(() => group([])).toThrow()
  })

  it('runs a [network, compute] service on the control hosts when no host is in network, each host once, in inventory order', () => {
    expect(names(groupHosts({hosts}, {group: ['network', 'compute'], hosts: 'all'}))).toEqual(['ctl-1', 'ctl-2', 'cmp-1', 'cmp-2'])
    expect(names(groupHosts({hosts}, {group: ['network'], hosts: 'all'}))).toEqual(['ctl-1', 'ctl-2'])
    expect(names(groupHosts({hosts}, {group: ['network'], hosts: 'first'}))).toEqual(['ctl-1'])
  })

  it('uses the network group as written once the inventory has one', () => {
    const withNet = [...hosts, host('net-1', ['network'])]
    expect(names(groupHosts({hosts: withNet}, {group: ['network'], hosts: 'all'}))).toEqual(['net-1'])
    expect(names(groupHosts({hosts: withNet}, {group: ['network', 'compute'], hosts: 'all'}))).toEqual(['cmp-1', 'cmp-2', 'net-1'])
  })
})
