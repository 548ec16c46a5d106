import {randomBytes} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type KeystoneRegistration, type OpenTcp, call, registerInKeystone} from '../../src/apply/keystone-register.js'
import {OsctlError} from '../../src/errors.js'

export interface KeystoneUnderTest {
  open: OpenTcp
  authUrl: string
  adminPassword: string
  region: string
  ca?: string
  close?: () => Promise<void>
}

/**
 * What osctl's keystone registration does to a keystone, run against the real one on a lab host
 * (deploy.test) and against FakeKeystone (unit), so the fake the deploy unit tests rely on cannot
 * drift from keystone's answers. Each run registers services of its own and deletes them after.
 */
export function keystoneRegisterContract(name: string, setup: () => Promise<KeystoneUnderTest>): void {
  describe(`keystone registration contract: ${name}`, () => {
    let k: KeystoneUnderTest
    const tag = `osctl-contract-${randomBytes(3).toString('hex')}`
    const made: Array<{user: string; type: string}> = []
    const reg = (suffix: string, over: Partial<KeystoneRegistration> = {}): KeystoneRegistration => {
      const r = {authUrl: k.authUrl, adminPassword: k.adminPassword, region: k.region, ...(k.ca ? {ca: k.ca} : {}), user: `${tag}-${suffix}`, password: `pw-${suffix}-1`, name: `${tag}-${suffix}`, type: `${tag}-${suffix}`, url: `http://192.0.2.10:9${suffix.length}99`, ...over}
      made.push({user: r.user, type: r.type})
      return r
    }
    const admin = async () => (await call(k.open, k, 'POST', '/auth/tokens', undefined, auth('admin', k.adminPassword, 'admin'))).headers['x-subject-token'] as string
    const get = async (path: string) => (await call(k.open, k, 'GET', path, await admin())).body
    const loginStatus = async (user: string, password: string) => (await call(k.open, k, 'POST', '/auth/tokens', undefined, auth(user, password, 'service'))).status

    beforeAll(async () => {
      k = await setup()
    })
    afterAll(async () => {
      if (!k) return
      const token = await admin()
      for (const m of made) {
        for (const u of (await get(`/users?name=${m.user}`)).users) await call(k.open, k, 'DELETE', `/users/${u.id}`, token)
        for (const s of (await get(`/services?type=${m.type}`)).services) await call(k.open, k, 'DELETE', `/services/${s.id}`, token)
      }
      await k.close?.()
    })

    it('makes the user (it logs in to project service with its password), the catalog entry and the three endpoints in the region', async () => {
      const r = reg('a', {publicUrl: 'http://192.0.2.20:9199'})
      expect(await registerInKeystone(k.open, r, 'contract')).toEqual([`user ${r.user} created`, `service ${r.type} created`, 'public endpoint http://192.0.2.20:9199 created', `internal endpoint ${r.url} created`, `admin endpoint ${r.url} created`])
      expect(await loginStatus(r.user, r.password)).toBe(201)
      const [service] = (await get(`/services?type=${r.type}`)).services
      expect(service).toMatchObject({name: r.name, type: r.type})
      const endpoints = (await get(`/endpoints?service_id=${service.id}`)).endpoints as Array<{interface: string; url: string; region_id: string}>
      expect(endpoints.map((e) => `${e.interface} ${e.url} ${e.region_id}`).sort()).toEqual([`admin ${r.url} ${k.region}`, `internal ${r.url} ${k.region}`, `public http://192.0.2.20:9199 ${k.region}`])
    })

    it('again with another password and URL: the same user, service and endpoints, fixed in place; the old password no longer logs in', async () => {
      const first = reg('b')
      await registerInKeystone(k.open, first, 'contract')
      const again = {...first, password: 'pw-b-2', url: 'http://192.0.2.11:9299'}
      expect(await registerInKeystone(k.open, again, 'contract')).toEqual([`public endpoint ${first.url} -> ${again.url}`, `internal endpoint ${first.url} -> ${again.url}`, `admin endpoint ${first.url} -> ${again.url}`])
      expect(await registerInKeystone(k.open, again, 'contract')).toEqual([])
      expect((await get(`/users?name=${first.user}`)).users).toHaveLength(1)
      const services = (await get(`/services?type=${first.type}`)).services
      expect(services).toHaveLength(1)
      expect(((await get(`/endpoints?service_id=${services[0].id}`)).endpoints as Array<{url: string}>).map((e) => e.url)).toEqual([again.url, again.url, again.url])
      expect(await loginStatus(first.user, 'pw-b-2')).toBe(201)
      expect(await loginStatus(first.user, first.password)).toBe(401)
    })

    it('several at once all register', async () => {
      const rs = ['c', 'dd', 'eee'].map((s) => reg(s))
      await Promise.all(rs.map((r) => registerInKeystone(k.open, r, 'contract')))
      for (const r of rs) expect(await loginStatus(r.user, r.password), r.user).toBe(201)
    })

    it('a wrong admin password fails at once with keystone\'s answer (401), naming the service', async () => {
      const began = Date.now()
      const err = await registerInKeystone(k.open, reg('f', {adminPassword: 'not-the-password'}), 'contract').then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(OsctlError)
      expect((err as OsctlError).message).toMatch(new RegExp(`contract: keystone registration of ${tag}-f at .* failed: admin token: 401`))
      // Not retried: a second try would start after a 2 s pause.
      expect(Date.now() - began).toBeLessThan(2000)
    })
  })
}

const auth = (name: string, password: string, project: string) => ({
  auth: {identity: {methods: ['password'], password: {user: {name, domain: {id: 'default'}, password}}}, scope: {project: {name: project, domain: {id: 'default'}}}},
})
