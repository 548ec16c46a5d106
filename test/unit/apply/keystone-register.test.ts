import {once} from 'node:events'
import {type AddressInfo, connect, createServer} from 'node:net'
import {describe, expect, it} from 'vitest'

import {registerInKeystone} from '../../../src/apply/keystone-register.js'
import {tcpProhibited} from '../../../src/hosts/host.js'
import {keystoneRegisterContract} from '../../contracts/keystone-register-contract.js'
import {FakeKeystone} from '../../fakes/fake-keystone.js'
import {FakeHost} from '../../fakes/fake-host.js'

keystoneRegisterContract('FakeKeystone', async () => {
  const keystone = new FakeKeystone('admin-pw')
  return {open: () => keystone.connect(), authUrl: 'http://192.0.2.5:5000/v3', adminPassword: 'admin-pw', region: 'RegionOne', close: async () => keystone.close()}
})

describe('keystone registration: keystone not there yet', () => {
  it('retries while no connection opens, then fails naming the service and keystone\'s address', async () => {
    const host = new FakeHost('lab-1')
    const reg = {authUrl: 'http://192.0.2.5:5000/v3', adminPassword: 'x', region: 'RegionOne', user: 'glance', password: 'p', name: 'glance', type: 'image', url: 'http://192.0.2.5:9292'}
    const err = await registerInKeystone((a, p) => host.openTcp(a, p), reg, 'lab-1', {pauseMs: 1}).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.message).toBe('lab-1: keystone registration of glance at http://192.0.2.5:5000/v3 failed: lab-1: cannot connect to 192.0.2.5:5000 from the host: connect ECONNREFUSED')
    expect(host.calls.map((c) => c.line)).toEqual(Array.from({length: 5}, () => 'tcp 192.0.2.5:5000'))
  })

  it('starts over when keystone appears meanwhile', async () => {
    const host = new FakeHost('lab-1')
    const keystone = new FakeKeystone('pw')
    let tries = 0
    host.onTcp('192.0.2.5', 5000, () => {
      if (++tries < 3) throw new Error('connect ECONNREFUSED')
      return keystone.connect()
    })
    const reg = {authUrl: 'http://192.0.2.5:5000/v3', adminPassword: 'pw', region: 'RegionOne', user: 'glance', password: 'p', name: 'glance', type: 'image', url: 'http://192.0.2.5:9292'}
    expect(await registerInKeystone((a, p) => host.openTcp(a, p), reg, 'lab-1', {pauseMs: 1})).toContain('user glance created')
    expect(tries).toBeGreaterThanOrEqual(3)
    keystone.close()
  })
})

describe('keystone registration: one admin token for all', () => {
  it('registrations of one run share an admin token (each issue is a bcrypt check on keystone); one keystone no longer takes is asked again', async () => {
    const keystone = new FakeKeystone('shared-pw')
    const reg = (name: string) => ({authUrl: 'http://192.0.2.6:5000/v3', adminPassword: 'shared-pw', region: 'RegionOne', user: name, password: 'p', name, type: name, url: `http://192.0.2.6:1/${name}`})
    const open = () => keystone.connect()
    await Promise.all(['a', 'b', 'c'].map((n) => registerInKeystone(open, reg(n), 'lab-1', {pauseMs: 1})))
    expect(keystone.requests.filter((r) => r === 'POST /auth/tokens')).toHaveLength(1)
    keystone.revokeTokens()
    expect(await registerInKeystone(open, reg('d'), 'lab-1', {pauseMs: 1})).toContain('user d created')
    expect(keystone.requests.filter((r) => r === 'POST /auth/tokens')).toHaveLength(2)
    keystone.close()
  })
})

describe('keystone registration: bounded, and what no retry mends', () => {
  const reg = {authUrl: 'http://192.0.2.7:5000/v3', adminPassword: 'x', region: 'RegionOne', user: 'nova', password: 'p', name: 'nova', type: 'compute', url: 'http://192.0.2.7:8774/v2.1'}

  it('a keystone that takes the connection and never answers: each try ends after answerMs, the registration after 5, naming it', async () => {
    const silent = createServer(() => undefined)
    await once(silent.listen(0, '127.0.0.1'), 'listening')
    let opened = 0
    const open = async () => (opened++, connect({host: '127.0.0.1', port: (silent.address() as AddressInfo).port}))
    try {
      const err = await registerInKeystone(open, reg, 'lab-1', {pauseMs: 1, timeouts: {connectMs: 1000, answerMs: 100}}).then(() => undefined, (e: unknown) => e as Error & {hint?: string})
      expect(err?.message).toBe('lab-1: keystone registration of nova at http://192.0.2.7:5000/v3 failed: POST /v3/auth/tokens: no answer within 0.1 s')
      expect(err?.hint).toMatch(/keystone did not answer/)
      expect(opened).toBe(5)
    } finally {
      silent.close()
    }
  })

  it('a connection that never opens: each try ends after connectMs', async () => {
    const err = await registerInKeystone(() => new Promise(() => undefined), reg, 'lab-1', {pauseMs: 1, timeouts: {connectMs: 50, answerMs: 1000}}).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.message).toBe('lab-1: keystone registration of nova at http://192.0.2.7:5000/v3 failed: no connection within 0.05 s')
  })

  it("a host whose sshd forbids TCP forwarding fails at once, with the host's hint", async () => {
    let opened = 0
    const err = await registerInKeystone(async (a, p) => {
      opened++
      throw tcpProhibited('lab-1', a, p)
    }, reg, 'lab-1', {pauseMs: 1}).then(() => undefined, (e: unknown) => e as Error & {hint?: string})
    expect(err?.message).toBe('lab-1: keystone registration of nova at http://192.0.2.7:5000/v3 failed: lab-1: its sshd does not allow TCP forwarding, which osctl needs to reach 192.0.2.7:5000 from the host')
    expect(err?.hint).toMatch(/AllowTcpForwarding local/)
    expect(opened).toBe(1)
  })
})
