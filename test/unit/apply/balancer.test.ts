import {describe, expect, it} from 'vitest'

import {HaproxyBalancer, balancerFor, noBalancer} from '../../../src/apply/balancer.js'
import {silentReporter} from '../../../src/events/reporters.js'
import {HostSession} from '../../../src/session/host-session.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {testSite} from '../../fakes/site.js'

/** A control host whose haproxy keeps `inflight` requests on nova_api/lab-2 until the drain has been seen twice. */
function lb(name: string, log: string[], opts: {inflight?: number; down?: boolean} = {}): FakeHost {
  const h = new FakeHost(name)
  let polls = 0
  h.on(/^runc exec osctl-haproxy socat/, (call) => {
    if (opts.down) return {exitCode: 1, stderr: 'container osctl-haproxy does not exist'}
    if (call.input!.startsWith('show stat')) {
      const busy = polls++ < 2 ? (opts.inflight ?? 0) : 0
      return `# pxname,svname,qcur,qmax,scur\nnova_api,FRONTEND,,,9\nnova_api,lab-1,0,0,4\nnova_api,lab-2,0,0,${busy}\n`
    }
    log.push(`${name}: ${call.input!.trim()}`)
    return '\n'
  })
  return h
}

describe('haproxy balancer around a container swap', () => {
  it('drains the host on every haproxy, waits for its requests to finish, swaps, then sets it ready', async () => {
    const log: string[] = []
    const hosts = [lb('lab-1', log, {inflight: 2}), lb('lab-2', log)]
    const b = new HaproxyBalancer(() => hosts, silentReporter)
    const result = await b.around('lab-2', 'nova-api', async () => {
      log.push('swap')
      return 'healthy'
    })
    expect(result).toBe('healthy')
    expect(log).toEqual(['lab-1: set server nova_api/lab-2 state drain', 'lab-2: set server nova_api/lab-2 state drain', 'swap', 'lab-1: set server nova_api/lab-2 state ready', 'lab-2: set server nova_api/lab-2 state ready'])
    // It waited: lab-1's haproxy was asked until lab-2 had nothing in flight.
    expect(hosts[0].calls.filter((c) => c.input === 'show stat\n').length).toBeGreaterThanOrEqual(3)
  })

  it('sets the backend ready again when the swap fails, and rethrows', async () => {
    const log: string[] = []
    const b = new HaproxyBalancer(() => [lb('lab-1', log)], silentReporter)
    await expect(b.around('lab-1', 'keystone', async () => Promise.reject(new Error('not healthy')))).rejects.toThrow('not healthy')
    expect(log).toEqual(['lab-1: set server keystone/lab-1 state drain', 'lab-1: set server keystone/lab-1 state ready'])
  })

  it('a control host without a running haproxy does not stop the swap; the event says so', async () => {
    const log: string[] = []
    const events: Array<{code: string; host?: string}> = []
    const reporter = {emit: (code: string, _d: unknown, host?: string) => void events.push({code, host})}
    const b = new HaproxyBalancer(() => [lb('lab-1', log, {down: true}), lb('lab-2', log)], reporter as never)
    expect(await b.around('lab-1', 'nova-metadata', async () => 'ok')).toBe('ok')
    expect(log).toEqual(['lab-2: set server nova_metadata/lab-1 state drain', 'lab-2: set server nova_metadata/lab-1 state ready'])
    expect(events.filter((e) => e.code === 'balancer.unreachable').map((e) => e.host)).toEqual(['lab-1', 'lab-1'])
  })

  it('containers no frontend serves, and sites without internal_vip, only run the swap', async () => {
    const log: string[] = []
    const host = lb('lab-1', log)
    expect(await new HaproxyBalancer(() => [host], silentReporter).around('lab-1', 'nova-conductor', async () => 7)).toBe(7)
    expect(host.calls).toEqual([])
    expect(balancerFor(testSite(), {} as HostSession, silentReporter)).toBe(noBalancer)
    expect(balancerFor(testSite({internalVip: '10.0.0.250'}), {} as HostSession, silentReporter)).toBeInstanceOf(HaproxyBalancer)
  })
})
