import {describe, expect, it} from 'vitest'

import {registerInKeystone} from '../../../src/apply/keystone-register.js'
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
    const err = await registerInKeystone((a, p) => host.openTcp(a, p), reg, 'lab-1', 1).then(() => undefined, (e: unknown) => e as Error)
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
    expect(await registerInKeystone((a, p) => host.openTcp(a, p), reg, 'lab-1', 1)).toContain('user glance created')
    expect(tries).toBeGreaterThanOrEqual(3)
    keystone.close()
  })
})

describe('keystone registration: one admin token for all', () => {
  it('registrations of one run share an admin token (each issue is a bcrypt check on keystone); one keystone no longer takes is asked again', async () => {
    const keystone = new FakeKeystone('shared-pw')
    const reg = (name: string) => ({authUrl: 'http://192.0.2.6:5000/v3', adminPassword: 'shared-pw', region: 'RegionOne', user: name, password: 'p', name, type: name, url: `http://192.0.2.6:1/${name}`})
    const open = () => keystone.connect()
    await Promise.all(['a', 'b', 'c'].map((n) => registerInKeystone(open, reg(n), 'lab-1', 1)))
    expect(keystone.requests.filter((r) => r === 'POST /auth/tokens')).toHaveLength(1)
    keystone.revokeTokens()
    expect(await registerInKeystone(open, reg('d'), 'lab-1', 1)).toContain('user d created')
    expect(keystone.requests.filter((r) => r === 'POST /auth/tokens')).toHaveLength(2)
    keystone.close()
  })
})
