import {randomUUID} from 'node:crypto'
import {type IncomingMessage, type Server, type ServerResponse, createServer} from 'node:http'
import {createServer as createTlsServer} from 'node:https'
import {type AddressInfo, connect} from 'node:net'
import type {Duplex} from 'node:stream'
import {setTimeout as sleep} from 'node:timers/promises'

/**
 * The part of keystone's v3 API a service registration uses (src/apply/keystone-register.ts):
 * password tokens, projects, users, roles and grants, services, endpoints. An in-process HTTP
 * server that FakeHost.onTcp hands connections to. Kept honest by the registration contract
 * (test/integration/keystone-register-contract.ts), which also runs against a real keystone.
 */
export class FakeKeystone {
  private server?: Server
  private readonly tokens = new Map<string, string>()
  readonly users = new Map<string, {id: string; name: string; password: string; default_project_id?: string}>()
  readonly projects = new Map<string, {id: string; name: string}>()
  readonly roles = new Map<string, {id: string; name: string}>()
  readonly grants = new Set<string>()
  readonly services = new Map<string, {id: string; name: string; type: string}>()
  readonly endpoints = new Map<string, {id: string; service_id: string; interface: string; url: string; region_id: string}>()
  /** User name → ms its creation or lookup waits (a registration that takes that long). */
  readonly slow = new Map<string, number>()
  /** User names whose creation or lookup is answered 403 (a registration keystone refuses). */
  readonly refuse = new Set<string>()
  /** Requests answered, `METHOD /path`. */
  readonly requests: string[] = []

  /**
   * `adminPassword` undefined: admin logs in with any password (deploy tests whose sites each make
   * their own). `pem` (certificate and key): it speaks https with it.
   */
  constructor(
    private readonly adminPassword?: string,
    private readonly pem?: string,
  ) {
    const admin = this.add(this.projects, {name: 'admin'})
    const role = this.add(this.roles, {name: 'admin'})
    const user = this.add(this.users, {name: 'admin', password: adminPassword ?? ''})
    this.grants.add(`${admin.id}/${user.id}/${role.id}`)
  }

  /** A new connection to it, as FakeHost.onTcp wants (the server starts on first use). */
  async connect(): Promise<Duplex> {
    if (!this.listening) {
      const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res)
      const server: Server = this.pem ? createTlsServer({cert: this.pem, key: this.pem}, handler) : createServer(handler)
      this.server = server
      this.listening = new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)).then(() => void server.unref())
    }
    await this.listening
    return connect({host: '127.0.0.1', port: (this.server!.address() as AddressInfo).port})
  }

  private listening?: Promise<void>

  /** Forgets every token it issued (expired, or keystone's keys rotated): they get 401 from now on. */
  revokeTokens(): void {
    this.tokens.clear()
  }

  close(): void {
    this.server?.close()
    this.server = undefined
    this.listening = undefined
  }

  private add<T extends {id: string}>(into: Map<string, T>, value: Omit<T, 'id'>): T {
    const v = {...value, id: randomUUID().replaceAll('-', '')} as T
    into.set(v.id, v)
    return v
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
    const url = new URL(req.url ?? '/', 'http://keystone')
    const path = url.pathname.replace(/^\/v3/, '')
    const method = req.method ?? 'GET'
    this.requests.push(`${method} ${path}`)
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {'content-type': 'application/json', connection: 'close', ...headers})
      res.end(json === undefined ? undefined : JSON.stringify(json))
    }
    const error = (status: number, message: string) => send(status, {error: {code: status, message}})
    if (method === 'POST' && path === '/auth/tokens') {
      const u = body?.auth?.identity?.password?.user
      const user = [...this.users.values()].find((x) => x.name === u?.name)
      const ok = user && (user.name === 'admin' && this.adminPassword === undefined ? true : user.password === u?.password)
      // As keystone: a token scoped to a project needs a role there.
      const project = [...this.projects.values()].find((p) => p.name === body?.auth?.scope?.project?.name)
      const member = user && project && [...this.grants].some((g) => g.startsWith(`${project.id}/${user.id}/`))
      if (!ok || !member) return error(401, 'The request you have made requires authentication.')
      const token = randomUUID()
      this.tokens.set(token, user.id)
      return send(201, {token: {user: {id: user.id, name: user.name}}}, {'x-subject-token': token})
    }
    const who = this.tokens.get(String(req.headers['x-auth-token'] ?? ''))
    if (!who) return error(401, 'The request you have made requires authentication.')
    if (this.users.get(who)?.name !== 'admin') return error(403, 'You are not authorized to perform the requested action.')
    const q = (k: string) => url.searchParams.get(k)
    const [, kind, id, ...rest] = path.split('/')
    if (kind === 'projects' && rest[0] === 'users' && method === 'PUT') {
      const [, userId, , roleId] = rest
      if (!this.projects.has(id) || !this.users.has(userId) || !this.roles.has(roleId)) return error(404, 'Could not find project, user or role.')
      this.grants.add(`${id}/${userId}/${roleId}`)
      return send(204)
    }
    if (kind === 'projects' && method === 'GET') return send(200, {projects: [...this.projects.values()].filter((p) => !q('name') || p.name === q('name'))})
    if (kind === 'projects' && method === 'POST') {
      if ([...this.projects.values()].some((p) => p.name === body.project.name)) return error(409, `Conflict occurred attempting to store project - Duplicate entry.`)
      return send(201, {project: this.add(this.projects, {name: body.project.name})})
    }
    // The user a registration makes or looks up: slow or refused when a test says so.
    const userName = kind === 'users' ? (method === 'POST' ? String(body?.user?.name ?? '') : (q('name') ?? '')) : ''
    if (userName && this.refuse.has(userName)) return error(403, `You are not authorized to perform the requested action: user ${userName}.`)
    const wait = userName ? this.slow.get(userName) : undefined
    if (wait) await sleep(wait)
    if (kind === 'users' && method === 'GET') {
      const name = q('name') ?? ''
      return send(200, {users: [...this.users.values()].filter((u) => !name || u.name === name).map(({password: _, ...u}) => u)})
    }
    if (kind === 'users' && method === 'POST') {
      if ([...this.users.values()].some((u) => u.name === body.user.name)) return error(409, 'Conflict occurred attempting to store user - Duplicate entry.')
      const {password: _, ...user} = this.add(this.users, {name: body.user.name, password: body.user.password, default_project_id: body.user.default_project_id})
      return send(201, {user})
    }
    if (kind === 'users' && method === 'PATCH') {
      const user = this.users.get(id)
      if (!user) return error(404, `Could not find user: ${id}.`)
      if (body.user.password !== undefined) user.password = body.user.password
      return send(200, {user: {id: user.id, name: user.name}})
    }
    if (kind === 'users' && method === 'DELETE') {
      if (!this.users.delete(id)) return error(404, `Could not find user: ${id}.`)
      for (const g of [...this.grants]) if (g.split('/')[1] === id) this.grants.delete(g)
      return send(204)
    }
    if (kind === 'roles' && method === 'GET') return send(200, {roles: [...this.roles.values()].filter((r) => !q('name') || r.name === q('name'))})
    if (kind === 'services' && method === 'GET') return send(200, {services: [...this.services.values()].filter((s) => !q('type') || s.type === q('type'))})
    if (kind === 'services' && method === 'POST') return send(201, {service: this.add(this.services, {name: body.service.name, type: body.service.type})})
    if (kind === 'services' && method === 'DELETE') {
      if (!this.services.delete(id)) return error(404, `Could not find service: ${id}.`)
      // Its endpoints go with it, as in keystone.
      for (const e of [...this.endpoints.values()]) if (e.service_id === id) this.endpoints.delete(e.id)
      return send(204)
    }
    if (kind === 'endpoints' && method === 'GET') {
      const found = [...this.endpoints.values()].filter((e) => (!q('service_id') || e.service_id === q('service_id')) && (!q('interface') || e.interface === q('interface')))
      return send(200, {endpoints: found.map((e) => ({...e, region: e.region_id}))})
    }
    if (kind === 'endpoints' && method === 'POST') {
      const e = body.endpoint
      if (!this.services.has(e.service_id)) return error(400, 'Invalid service_id.')
      // keystone-manage bootstrap makes the one region there is.
      if (e.region_id !== 'RegionOne') return error(400, `Invalid region_id ${e.region_id}.`)
      return send(201, {endpoint: this.add(this.endpoints, {service_id: e.service_id, interface: e.interface, url: e.url, region_id: e.region_id})})
    }
    if (kind === 'endpoints' && method === 'PATCH') {
      const e = this.endpoints.get(id)
      if (!e) return error(404, `Could not find endpoint: ${id}.`)
      e.url = body.endpoint.url ?? e.url
      return send(200, {endpoint: e})
    }
    return error(404, `${method} ${path}: not in this fake`)
  }
}

/** The keystone every fake lab host reaches on port 5000 (fake-lab-host.ts): admin logs in with any password. */
export const labKeystone = new FakeKeystone()
