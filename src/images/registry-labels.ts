import type {Site} from '../site/types.js'
import {registryBaseUrl, registryFetch} from './registry-http.js'

const MANIFESTS = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ')

interface Manifest {
  config?: {digest: string}
  manifests?: Array<{digest: string; platform?: {os?: string; architecture?: string}}>
}

/**
 * The labels of an image in the site registry, read from this machine with the registry API
 * (manifest, then its config blob; an index is followed to linux/amd64). Undefined when this
 * machine cannot reach the registry or the image is not there: the caller decides what that means.
 */
export async function registryImageLabels(site: Pick<Site, 'config' | 'dir'>, name: string, tag: string, fetchImpl: typeof fetch = registryFetch(site)): Promise<Record<string, string> | undefined> {
  const base = `${registryBaseUrl(site)}/v2/${site.config.namespace}/${name}`
  const get = async (path: string, accept?: string): Promise<unknown> => {
    const r = await fetchImpl(`${base}/${path}`, {headers: accept ? {Accept: accept} : {}, signal: AbortSignal.timeout(10_000)})
    if (!r.ok) throw new Error(`${r.status} ${path}`)
    return r.json()
  }
  try {
    let manifest = (await get(`manifests/${tag}`, MANIFESTS)) as Manifest
    if (manifest.manifests) {
      const amd64 = manifest.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ?? manifest.manifests[0]
      manifest = (await get(`manifests/${amd64.digest}`, MANIFESTS)) as Manifest
    }
    if (!manifest.config) return undefined
    const config = (await get(`blobs/${manifest.config.digest}`)) as {config?: {Labels?: Record<string, string> | null}}
    return config.config?.Labels ?? {}
  } catch {
    return undefined
  }
}
