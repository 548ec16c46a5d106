import {createHash} from 'node:crypto'
import {type IncomingHttpHeaders, request} from 'node:http'
import {isIP} from 'node:net'
import type {Duplex} from 'node:stream'
import {setTimeout as sleep} from 'node:timers/promises'
import {connect as tlsConnect} from 'node:tls'

import {OsctlError, errorMessage, isOsctlError} from '../errors.js'

/**
 * A service's place in keystone, made idempotently (look, then create or fix): its user with the
 * admin role in project `service` (the password always set to passwords.yml's), its catalog entry
 * and its three endpoints. osctl does it itself, over HTTP through a TCP connection the host opens
 * (Host.openTcp): no one-shot container and no Python client to start (4-5 s for each service on a
 * small host before keystone answered a single request).
 */
export interface KeystoneRegistration {
  /** Keystone's v3 URL (`…:5000/v3`), as the host reaches it. */
  authUrl: string
  adminPassword: string
  region: string
  user: string
  password: string
  /** The catalog entry: its name and type. */
  name: string
  type: string
  /** internal and admin endpoints; the public one is publicUrl (external_vip), else this. */
  url: string
  publicUrl?: string
  /** PEM of the CA the API's certificate must verify against (https). */
  ca?: string
}

/** Opens a TCP connection from where the API is reachable (the deploy's host). */
export type OpenTcp = (address: string, port: number) => Promise<Duplex>

export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: any
}

/**
 * An answer other than the one wanted, or none; `retry`: keystone not answering yet, a stale token
 * or id, or a race another registration won. `hint`: what to check when it is the last word.
 */
class KeystoneError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
    readonly hint = retry ? 'keystone did not answer: check `osctl service status keystone`' : 'keystone refused it; its answer is above',
  ) {
    super(message)
  }
}

const ATTEMPTS = 5

/** How long a connection may take to open, and a request to be answered, before the try counts as failed. */
export interface KeystoneTimeouts {
  connectMs: number
  answerMs: number
}
const TIMEOUTS: KeystoneTimeouts = {connectMs: 10_000, answerMs: 30_000}

/** A certificate the site CA does not vouch for (or that names another host): no retry mends it. */
const certificateError = (err: unknown): boolean => /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(String((err as {code?: unknown}).code ?? ''))

/** The step's environment (templates/<service>/service.yml) as a registration; a missing key names itself. */
export function registrationFromEnv(env: Record<string, string>, ca: string | undefined, where: string): KeystoneRegistration {
  const need = (k: string) => {
    const v = env[k]
    if (!v) throw new OsctlError('CONFIG_INVALID', `${where}: the keystone-register step needs ${k} in its environment`, {hint: 'see templates/placement/service.yml for the keys it reads'})
    return v
  }
  return {
    authUrl: need('OS_AUTH_URL'),
    adminPassword: need('OS_PASSWORD'),
    region: need('OS_REGION_NAME'),
    user: need('SERVICE_USER'),
    password: need('SERVICE_PASSWORD'),
    name: need('SERVICE_NAME'),
    type: need('SERVICE_TYPE'),
    url: need('SERVICE_URL'),
    ...(env.SERVICE_PUBLIC_URL ? {publicUrl: env.SERVICE_PUBLIC_URL} : {}),
    ...(env.OS_CACERT ? {ca: ca ?? missingCa(where, env.OS_CACERT)} : {}),
  }
}

function missingCa(where: string, path: string): never {
  throw new OsctlError('INTERNAL', `${where}: the keystone-register step names ${path}, but its container has no CA file`)
}

/**
 * One JSON request on a new connection (keystone's uwsgi closes each after its answer), bounded in
 * time: opening the connection (`connectMs`) and the answer (`answerMs`). A connection that
 * cannot be opened, breaks or goes silent is worth another try; a certificate the CA does not
 * vouch for, or a host whose sshd forbids the connection, is not.
 */
export async function call(open: OpenTcp, reg: Pick<KeystoneRegistration, 'authUrl' | 'ca'>, method: string, path: string, token?: string, body?: unknown, timeouts: KeystoneTimeouts = TIMEOUTS): Promise<Answer> {
  const url = new URL(`${reg.authUrl.replace(/\/+$/, '')}${path}`)
  const tls = url.protocol === 'https:'
  const port = Number(url.port || (tls ? 443 : 80))
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const what = `${method} ${url.pathname}`
  let socket: Duplex
  try {
    socket = await withTimeout(open(host, port), timeouts.connectMs, `no connection within ${timeouts.connectMs / 1000} s`)
  } catch (err) {
    if (isOsctlError(err) && (err.details as {prohibited?: boolean} | undefined)?.prohibited) throw new KeystoneError(err.message, false, err.hint)
    throw new KeystoneError(errorMessage(err), true)
  }
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return new Promise<Answer>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const fail = (err: unknown) => {
      clearTimeout(timer)
      socket.destroy()
      reject(
        certificateError(err)
          ? new KeystoneError(`${what}: ${errorMessage(err)}`, false, `the API's certificate must be signed by the site CA and name ${host}: \`osctl certificates\``)
          : new KeystoneError(`${what}: ${errorMessage(err)}`, true),
      )
    }
    try {
      if (tls) socket = tlsConnect({socket, host, ...(isIP(host) ? {} : {servername: host}), ...(reg.ca ? {ca: reg.ca} : {})})
      // Plain http over whatever the socket is (TLS already set up above for https). The timer is
      // its own: http's \`timeout\` needs a socket's setTimeout, which an SSH channel has not.
      const req = request(
        {
          method,
          path: `${url.pathname}${url.search}`,
          createConnection: () => socket as never,
          headers: {
            host: url.host,
            accept: 'application/json',
            ...(payload ? {'content-type': 'application/json', 'content-length': String(payload.length)} : {}),
            ...(token ? {'x-auth-token': token} : {}),
            connection: 'close',
          },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', fail)
          res.on('end', () => {
            clearTimeout(timer)
            const text = Buffer.concat(chunks).toString('utf8')
            let parsed: unknown
            try {
              parsed = text ? JSON.parse(text) : undefined
            } catch {
              parsed = text
            }
            resolve({status: res.statusCode ?? 0, headers: res.headers, body: parsed})
          })
        },
      )
      timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeouts.answerMs / 1000} s`)), timeouts.answerMs)
      req.on('error', fail)
      req.end(payload)
    } catch (err) {
      fail(err)
    }
  })
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))
  // A connection that opens after all is closed at once.
  late.catch(() => p.then((s) => (s as {destroy?: () => void}).destroy?.(), () => undefined))
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

/** The answer when its status is one of `ok`, else a KeystoneError saying what keystone said. */
async function want(answer: Promise<Answer>, what: string, ...ok: number[]): Promise<Answer> {
  const a = await answer
  if (ok.includes(a.status)) return a
  const said = typeof a.body === 'object' && a.body?.error?.message ? String(a.body.error.message) : String(a.body ?? '').slice(0, 200)
  // 409: a registration beside this one made the same thing first; 502/503: no keystone behind the
  // balancer yet; 401 to anything but the token request: the shared admin token went stale; 404:
  // an id looked up once per run is gone. The next try asks for all of them again.
  const stale = (a.status === 401 && what !== 'admin token') || a.status === 404
  throw new KeystoneError(`${what}: ${a.status} ${said}`.trim(), stale || [409, 502, 503].includes(a.status))
}

/**
 * Admin tokens (project admin) by keystone URL and password, shared by the registrations of one
 * osctl run: each token issue is a bcrypt check on keystone (a third of a second on a busy host).
 * A token keystone no longer takes (401: expired, keys rotated) is forgotten and asked again.
 */
const tokens = new Map<string, Promise<string>>()
const tokenKey = (reg: KeystoneRegistration) => createHash('sha256').update(`${reg.authUrl}\0${reg.adminPassword}`).digest('hex')

function adminToken(open: OpenTcp, reg: KeystoneRegistration, timeouts: KeystoneTimeouts): Promise<string> {
  const key = tokenKey(reg)
  let token = tokens.get(key)
  if (!token) {
    const auth = {
      auth: {
        identity: {methods: ['password'], password: {user: {name: 'admin', domain: {id: 'default'}, password: reg.adminPassword}}},
        scope: {project: {name: 'admin', domain: {id: 'default'}}},
      },
    }
    token = want(call(open, reg, 'POST', '/auth/tokens', undefined, auth, timeouts), 'admin token', 201).then((a) => {
      const t = a.headers['x-subject-token']
      if (typeof t !== 'string') throw new KeystoneError('admin token: no X-Subject-Token in the answer', false)
      return t
    })
    tokens.set(key, token)
    token.catch(() => tokens.get(key) === token && tokens.delete(key))
  }
  return token
}

const q = encodeURIComponent

/**
 * Ids every registration of a run needs (project service, role admin), asked once per keystone,
 * like the token; a failed lookup is asked again by the next try.
 */
const shared = new Map<string, Promise<string>>()
function once(key: string, ask: () => Promise<string>): Promise<string> {
  let p = shared.get(key)
  if (!p) {
    p = ask()
    shared.set(key, p)
    const mine = p
    p.catch(() => shared.get(key) === mine && shared.delete(key))
  }
  return p
}

/**
 * As few requests as keystone needs answered (on a busy host each takes it a fraction of a second
 * of CPU): the user created first (409: it exists, so found and its password set), a new service's
 * endpoints made without listing them; each round's requests side by side.
 */
async function registerOnce(open: OpenTcp, reg: KeystoneRegistration, timeouts: KeystoneTimeouts): Promise<string[]> {
  const token = await adminToken(open, reg, timeouts)
  const ks = (method: string, path: string, what: string, ok: number[], body?: unknown) => want(call(open, reg, method, path, token, body, timeouts), what, ...ok)
  const site = tokenKey(reg)
  const [projectId, roleId, listed] = await Promise.all([
    once(`${site} project`, async () => {
      const found = (await ks('GET', '/projects?name=service&domain_id=default', 'project service', [200])).body.projects[0]
      return (found ?? (await ks('POST', '/projects', 'create project service', [201], {project: {name: 'service', domain_id: 'default', description: 'OpenStack services'}})).body.project).id
    }),
    once(`${site} role`, async () => {
      const admin = (await ks('GET', '/roles?name=admin', 'role admin', [200])).body.roles[0]
      if (!admin) throw new KeystoneError('role admin: not in keystone (its bootstrap makes it)', false)
      return admin.id
    }),
    ks('GET', `/services?type=${q(reg.type)}`, `service ${reg.type}`, [200]),
  ])
  const existing = listed.body.services[0]
  const newUser = {user: {name: reg.user, domain_id: 'default', password: reg.password, default_project_id: projectId}}
  const [user, service] = await Promise.all([
    (async () => {
      // A new service's user is most likely new too: created first (409: it exists). Another
      // registration of a service already there looks first (a 409 costs keystone a password hash).
      const created = existing ? undefined : await ks('POST', '/users', `create user ${reg.user}`, [201, 409], newUser)
      if (created?.status === 201) return {id: created.body.user.id as string, created: true}
      const found = (await ks('GET', `/users?name=${q(reg.user)}&domain_id=default`, `user ${reg.user}`, [200])).body.users[0]
      if (!found) return {id: (await ks('POST', '/users', `create user ${reg.user}`, [201], newUser)).body.user.id as string, created: true}
      // The password from passwords.yml always wins.
      await ks('PATCH', `/users/${found.id}`, `user ${reg.user}: password`, [200], {user: {password: reg.password}})
      return {id: found.id as string, created: false}
    })(),
    existing ?? ks('POST', '/services', `create service ${reg.type}`, [201], {service: {name: reg.name, type: reg.type, description: `OpenStack ${reg.type}`}}).then((a) => a.body.service),
  ])
  const [, endpointList] = await Promise.all([
    ks('PUT', `/projects/${projectId}/users/${user.id}/roles/${roleId}`, `grant admin to ${reg.user}`, [200, 201, 204]),
    existing ? ks('GET', `/endpoints?service_id=${q(service.id)}`, `endpoints of ${reg.type}`, [200]) : undefined,
  ])
  const endpoints = ((endpointList?.body.endpoints ?? []) as Array<{id: string; interface: string; url: string; region_id?: string; region?: string}>).filter((e) => (e.region_id ?? e.region) === reg.region)
  const urls = {public: reg.publicUrl ?? reg.url, internal: reg.url, admin: reg.url}
  const fixed = await Promise.all(
    Object.entries(urls).map(async ([iface, url]) => {
      const e = endpoints.find((x) => x.interface === iface)
      if (!e) {
        await ks('POST', '/endpoints', `create ${iface} endpoint`, [201], {endpoint: {service_id: service.id, interface: iface, url, region_id: reg.region}})
        return `${iface} endpoint ${url} created`
      }
      if (e.url === url) return undefined
      await ks('PATCH', `/endpoints/${e.id}`, `${iface} endpoint`, [200], {endpoint: {url}})
      return `${iface} endpoint ${e.url} -> ${url}`
    }),
  )
  return [...(user.created ? [`user ${reg.user} created`] : []), ...(existing ? [] : [`service ${reg.type} created`]), ...fixed.filter((f): f is string => f !== undefined)]
}

/**
 * Registers the service; keystone not answering yet, a broken or silent connection, a stale token
 * or id, or a conflict with a registration beside it start the whole (idempotent) registration
 * over, up to 5 times, with everything asked again. Returns what it changed besides the password
 * (empty: everything was already there).
 */
export async function registerInKeystone(open: OpenTcp, reg: KeystoneRegistration, where: string, {pauseMs = 2000, timeouts = TIMEOUTS}: {pauseMs?: number; timeouts?: KeystoneTimeouts} = {}): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await registerOnce(open, reg, timeouts)
    } catch (err) {
      const retry = err instanceof KeystoneError && err.retry
      if (!retry || attempt === ATTEMPTS) {
        throw new OsctlError('COMMAND_FAILED', `${where}: keystone registration of ${reg.name} at ${reg.authUrl} failed: ${errorMessage(err)}`, {
          cause: err,
          hint: err instanceof KeystoneError ? err.hint : 'keystone refused it; its answer is above',
        })
      }
      // The token and the ids shared by the run's registrations are asked again on the next try.
      forget(reg)
      await sleep(pauseMs)
    }
  }
}

function forget(reg: KeystoneRegistration): void {
  const key = tokenKey(reg)
  tokens.delete(key)
  for (const k of [...shared.keys()]) if (k.startsWith(key)) shared.delete(k)
}
