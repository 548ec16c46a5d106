import {randomUUID} from 'node:crypto'

import type {Step} from '../../helpers/one-connection.js'

// What a connection-reusing client sends to each API osctl deploys: answers of every kind (HEAD,
// 201, 204, 3xx, 401, 404, 405, 501) back to back on one connection. Statuses are the APIs' own
// (Zed), so a wrong one is as much a failure as a reset connection.

export const adminAuth = (password: string) => ({
  auth: {
    identity: {methods: ['password'], password: {user: {name: 'admin', domain: {id: 'default'}, password}}},
    scope: {project: {name: 'admin', domain: {id: 'default'}}},
  },
})

/** keystone: its own token, a HEAD check of it, a second token revoked (204), errors. */
export function keystoneSteps(password: string): Step[] {
  const token = (answers: {headers: Record<string, unknown>}[], i: number) => String(answers[i].headers['x-subject-token'])
  return [
    {method: 'HEAD', path: '/v3', expect: 200},
    {method: 'POST', path: '/v3/auth/tokens', body: adminAuth(password), expect: 201},
    (a) => ({method: 'HEAD', path: '/v3/auth/tokens', headers: {'X-Auth-Token': token(a, 1), 'X-Subject-Token': token(a, 1)}, expect: 200}),
    (a) => ({method: 'POST', path: '/v3/auth/tokens', body: {auth: {identity: {methods: ['token'], token: {id: token(a, 1)}}}}, expect: 201}),
    (a) => ({method: 'DELETE', path: '/v3/auth/tokens', headers: {'X-Auth-Token': token(a, 1), 'X-Subject-Token': token(a, 3)}, expect: 204}),
    (a) => ({method: 'GET', path: '/v3/users', headers: {'X-Auth-Token': token(a, 1)}, expect: 200}),
    {method: 'GET', path: '/v3/users', expect: 401},
    (a) => ({method: 'HEAD', path: `/v3/users/${randomUUID().replaceAll('-', '')}`, headers: {'X-Auth-Token': token(a, 1)}, expect: 404}),
    (a) => ({method: 'POST', path: '/v3/auth/tokens', headers: {'X-Auth-Token': token(a, 1)}, body: adminAuth(password), expect: 201}),
    (a) => ({method: 'GET', path: '/v3/projects', headers: {'X-Auth-Token': token(a, 1)}, expect: 200}),
  ]
}

/** glance: an image created and deleted (204), the metadata definitions, errors. */
export function glanceSteps(token: string): Step[] {
  const auth = {'X-Auth-Token': token}
  const id = randomUUID()
  return [
    {method: 'HEAD', path: '/', expect: 300},
    {method: 'POST', path: '/v2/images', headers: auth, body: {id, name: `keepalive-${id.slice(0, 8)}`, disk_format: 'raw', container_format: 'bare'}, expect: 201},
    {method: 'DELETE', path: `/v2/images/${id}`, headers: auth, expect: 204},
    {method: 'GET', path: `/v2/images/${id}`, headers: auth, expect: 404},
    {method: 'HEAD', path: '/v2/images', headers: auth, expect: 405},
    {method: 'GET', path: '/v2/metadefs/namespaces', headers: auth, expect: 200},
    {method: 'GET', path: '/v2/images', expect: 401},
    {method: 'GET', path: '/v2/metadefs/resource_types', headers: auth, expect: 200},
  ]
}

/** placement: a resource provider created and deleted (204), errors. */
export function placementSteps(token: string): Step[] {
  const auth = {'X-Auth-Token': token}
  const uuid = randomUUID()
  return [
    // placement's root answers GET only.
    {method: 'HEAD', path: '/', expect: 405},
    {method: 'POST', path: '/resource_providers', headers: auth, body: {name: `keepalive-${uuid.slice(0, 8)}`, uuid}, expect: 201},
    {method: 'DELETE', path: `/resource_providers/${uuid}`, headers: auth, expect: 204},
    {method: 'GET', path: `/resource_providers/${uuid}`, headers: auth, expect: 404},
    {method: 'GET', path: '/resource_providers', expect: 401},
    {method: 'GET', path: '/resource_providers', headers: auth, expect: 200},
  ]
}

/** nova-api: a keypair created and deleted (204 from microversion 2.2), errors. */
export function novaSteps(token: string): Step[] {
  const auth = {'X-Auth-Token': token, 'OpenStack-API-Version': 'compute 2.10'}
  const name = `keepalive-${randomUUID().slice(0, 8)}`
  return [
    {method: 'GET', path: '/', expect: 200},
    {method: 'POST', path: '/v2.1/os-keypairs', headers: auth, body: {keypair: {name}}, expect: 201},
    {method: 'DELETE', path: `/v2.1/os-keypairs/${name}`, headers: auth, expect: 204},
    {method: 'GET', path: `/v2.1/os-keypairs/${name}`, headers: auth, expect: 404},
    {method: 'GET', path: '/v2.1/flavors', expect: 401},
    {method: 'GET', path: '/v2.1/flavors', headers: auth, expect: 200},
  ]
}

/** neutron-server: a security group created and deleted (204), errors. */
export function neutronSteps(token: string): Step[] {
  const auth = {'X-Auth-Token': token}
  const created = (answers: {body: string}[]) => String(JSON.parse(answers[1].body).security_group.id)
  return [
    {method: 'GET', path: '/', expect: 200},
    {method: 'POST', path: '/v2.0/security-groups', headers: auth, body: {security_group: {name: `keepalive-${randomUUID().slice(0, 8)}`}}, expect: 201},
    (a) => ({method: 'DELETE', path: `/v2.0/security-groups/${created(a)}`, headers: auth, expect: 204}),
    (a) => ({method: 'GET', path: `/v2.0/security-groups/${created(a)}`, headers: auth, expect: 404}),
    {method: 'GET', path: '/v2.0/networks', expect: 401},
    {method: 'GET', path: '/v2.0/networks', headers: auth, expect: 200},
  ]
}

/** nova-metadata: its version list, and a request neutron's metadata agent did not sign (400). */
export function novaMetadataSteps(): Step[] {
  return [
    {method: 'GET', path: '/', expect: 200},
    {method: 'GET', path: '/openstack', expect: 400},
    {method: 'GET', path: '/', expect: 200},
  ]
}
