import {OsctlError, errorMessage} from '../errors.js'
import {fetchTrusting} from '../images/registry-http.js'

/**
 * The few REST calls osctl makes to the cloud it deployed (post-deploy --init-network): a keystone
 * token for the admin project and JSON requests to the catalog's internal endpoints. Plain fetch:
 * the openstack client is a Python program osctl should not need on the operator's machine.
 */
export interface OpenStackApi {
  projectId: string
  request<T = Record<string, unknown>>(service: string, method: string, path: string, body?: unknown): Promise<T>
  /** A raw body (glance image data). */
  upload(service: string, path: string, data: Uint8Array, contentType: string): Promise<void>
}

export interface Credentials {
  authUrl: string
  username: string
  password: string
  project: string
  region: string
  /** The site CA file when the endpoints speak TLS (clientConfig's cacert). */
  cacert?: string
}

interface CatalogEntry {
  type: string
  endpoints: Array<{interface: string; region: string; url: string}>
}

/** keystone's password authentication scoped to a project, both in the default domain: the body of POST /v3/auth/tokens. */
export const passwordAuthBody = (username: string, password: string, project: string): string =>
  JSON.stringify({
    auth: {
      identity: {methods: ['password'], password: {user: {name: username, domain: {id: 'default'}, password}}},
      scope: {project: {name: project, domain: {id: 'default'}}},
    },
  })

export async function openStackApi(c: Credentials, timeoutMs = 60_000): Promise<OpenStackApi> {
  const auth = passwordAuthBody(c.username, c.password, c.project)
  const res = await call(`${c.authUrl.replace(/\/$/, '')}/auth/tokens`, {method: 'POST', headers: {'content-type': 'application/json'}, body: auth}, timeoutMs, c.cacert)
  const token = res.headers.get('x-subject-token')
  const body = (await res.json()) as {token: {catalog?: CatalogEntry[]; project: {id: string}}}
  if (!token) throw new OsctlError('COMMAND_FAILED', `keystone at ${c.authUrl} gave no token`)
  const endpoint = (service: string): string => {
    const entry = body.token.catalog?.find((e) => e.type === service)
    const ep = entry?.endpoints.find((e) => e.interface === 'internal' && e.region === c.region) ?? entry?.endpoints.find((e) => e.interface === 'internal')
    if (!ep) throw new OsctlError('COMMAND_FAILED', `the keystone catalog has no internal ${service} endpoint`, {hint: `deploy the service that provides ${service} first (osctl deploy)`})
    return ep.url.replace(/\/$/, '')
  }
  return {
    projectId: body.token.project.id,
    async request<T>(service: string, method: string, path: string, payload?: unknown): Promise<T> {
      const r = await call(
        `${endpoint(service)}${path}`,
        {method, headers: {'x-auth-token': token, 'content-type': 'application/json', accept: 'application/json'}, ...(payload === undefined ? {} : {body: JSON.stringify(payload)})},
        timeoutMs,
        c.cacert,
      )
      const text = await r.text()
      return (text ? JSON.parse(text) : {}) as T
    },
    async upload(service: string, path: string, data: Uint8Array, contentType: string): Promise<void> {
      await call(`${endpoint(service)}${path}`, {method: 'PUT', headers: {'x-auth-token': token, 'content-type': contentType}, body: new Blob([new Uint8Array(data)])}, timeoutMs * 5, c.cacert)
    },
  }
}

async function call(url: string, init: RequestInit, timeoutMs: number, cacert?: string): Promise<Response> {
  let res: Response
  try {
    res = await (cacert ? fetchTrusting(cacert) : fetch)(url, {...init, signal: AbortSignal.timeout(timeoutMs)})
  } catch (err) {
    throw new OsctlError('HOST_UNREACHABLE', `cannot reach ${url}: ${errorMessage(err)}`, {cause: err, hint: 'is the cloud deployed and its API up? `osctl service status`'})
  }
  if (res.ok) return res
  const text = (await res.text()).slice(0, 500)
  throw new OsctlError('COMMAND_FAILED', `${init.method ?? 'GET'} ${url}: ${res.status} ${res.statusText}: ${text}`)
}
