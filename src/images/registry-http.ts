import {readFileSync} from 'node:fs'
import {request} from 'node:https'

import {siteCaFile} from '../certificates/registry-tls.js'
import type {Site} from '../site/types.js'

/** `http://HOST:PORT`, or `https://` when osctl.yml says `tls: {registry: true}`. */
export function registryBaseUrl(site: Pick<Site, 'config'>): string {
  return `${site.config.tls?.registry ? 'https' : 'http'}://${site.config.registry}`
}

/**
 * fetch for the site registry API from this machine: the global fetch while it is plain HTTP,
 * else over node:https trusting the site CA (the global fetch takes no CA of its own).
 */
export function registryFetch(site: Pick<Site, 'config' | 'dir'>): typeof fetch {
  return site.config.tls?.registry ? fetchTrusting(siteCaFile(site)) : fetch
}

/** fetch over node:https trusting the CA in CAFILE (read at each call): string, bytes or Blob bodies. */
export function fetchTrusting(caFile: string): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const ca = readFileSync(caFile)
    const method = init.method ?? 'GET'
    const body = init.body instanceof Blob ? Buffer.from(await init.body.arrayBuffer()) : (init.body as string | Uint8Array | null | undefined)
    return new Promise<Response>((resolve, reject) => {
      const req = request(String(input), {method, ca, headers: init.headers as Record<string, string>, signal: init.signal ?? undefined}, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const headers = new Headers()
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v)
          const status = res.statusCode ?? 500
          const empty = method === 'HEAD' || [204, 304].includes(status)
          resolve(new Response(empty ? null : Buffer.concat(chunks), {status, statusText: res.statusMessage, headers}))
        })
      })
      req.on('error', reject)
      req.end(body ?? undefined)
    })
  }) as typeof fetch
}
