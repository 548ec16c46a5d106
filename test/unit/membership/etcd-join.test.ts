import {describe, expect, it} from 'vitest'

import {etcdJoiners, joinEtcd} from '../../../src/membership/etcd-join.js'
import {EtcdMembers} from '../../../src/membership/etcd-members.js'
import type {SiteHost} from '../../../src/site/types.js'
import {FakeHost} from '../../fakes/fake-host.js'

const site = (name: string, address: string): SiteHost => ({name, address, ssh: {user: 'root', port: 22}, groups: ['control']})
const control = [site('ctl-1', '10.0.0.11'), site('ctl-2', '10.0.0.12'), site('ctl-3', '10.0.0.13')]
const line = (id: string, state: string, name: string, addr: string) => `${id}, ${state}, ${name}, http://${addr}:2380, http://${addr}:2379, false`

describe('etcd: a control host added later joins the running cluster', () => {
  it('nobody joins while no etcd runs (the first bootstrap forms the cluster); a host that is no started member does', async () => {
    const hosts = new Map(control.map((h) => [h.name, new FakeHost(h.name, h.address)]))
    const connect = (h: SiteHost) => hosts.get(h.name)!
    expect((await etcdJoiners(control, control, connect)).joining).toEqual(new Set())
    hosts.get('ctl-1')!.on(/systemctl is-active --quiet osctl-etcd/, () => ({exitCode: 0}))
    hosts.get('ctl-1')!.on(/etcdctl .* member list/, () => [line('a1', 'started', 'ctl-1', '10.0.0.11'), line('b2', 'started', 'ctl-2', '10.0.0.12')].join('\n'))
    const r = await etcdJoiners(control, [control[2]], connect)
    expect(r.via?.name).toBe('ctl-1')
    expect(r.joining).toEqual(new Set(['ctl-3']))
    // A re-bootstrap of the members themselves joins nothing.
    expect((await etcdJoiners(control, control.slice(0, 2), connect)).joining).toEqual(new Set())
  })

  it('member add (asked of a member) before the new etcd starts with the cluster as the members know it', async () => {
    const via = new FakeHost('ctl-1', '10.0.0.11')
    const host = new FakeHost('ctl-3', '10.0.0.13')
    let added = false
    via.on(/etcdctl .* member list/, () => [line('a1', 'started', 'ctl-1', '10.0.0.11'), line('b2', 'started', 'ctl-2', '10.0.0.12'), ...(added ? [line('c3', 'unstarted', '', '10.0.0.13')] : [])].join('\n'))
    via.on(/etcdctl .* member add ctl-3 .*http:\/\/10.0.0.13:2380/, () => {
      added = true
      return ''
    })
    host.on(/before-join/, () => '')
    const started: string[] = []
    await joinEtcd(via, host, control[2], async (j) => void started.push(j.initialCluster))
    expect(added).toBe(true)
    expect(started).toEqual(['ctl-1=http://10.0.0.11:2380,ctl-2=http://10.0.0.12:2380,ctl-3=http://10.0.0.13:2380'])
    // Data of an earlier membership is moved aside before the start.
    expect(host.calls.some((c) => c.line.includes('before-join'))).toBe(true)
  })

  it('a membership change etcd refuses as an unhealthy cluster (a member reconnected less than 5 s ago) is asked again', async () => {
    const via = new FakeHost('ctl-1', '10.0.0.11')
    let tries = 0
    via.on(/etcdctl .* member remove c3/, () => (++tries === 1 ? {exitCode: 1, stderr: 'Error: etcdserver: unhealthy cluster\n'} : ''))
    await new EtcdMembers(via).remove('c3')
    expect(tries).toBe(2)
    via.on(/etcdctl .* member remove d4/, () => ({exitCode: 1, stderr: 'Error: etcdserver: member not found\n'}))
    await expect(new EtcdMembers(via).remove('d4')).rejects.toThrow(/member not found/)
  })
})
