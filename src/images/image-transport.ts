import {execa} from 'execa'
import {createReadStream} from 'node:fs'
import {mkdir, rename, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {OsctlError} from '../errors.js'
import {CACHE_DIR} from '../paths.js'

/**
 * Moves images from the engine on the machine running osctl to where hosts get them, with skopeo:
 * the local engine need not be reconfigured (insecure-registries, certs.d) for the site registry.
 *
 * Exporting from the engine (`docker-daemon:`) is a full `docker save`, the slow part; so each image
 * is exported once into a local OCI layout (blobs shared between images) keyed by its image id,
 * and archives are cached the same way. A second bootstrap or another lab reuses both.
 */
const LAYOUT = join(CACHE_DIR, 'oci-layout')
const ARCHIVES = join(CACHE_DIR, 'oci-archives')
/**
 * skopeo rewrites the layout's index.json without a lock: two exports at once (parallel pushes,
 * or two osctl on one machine) lose one of the tags. Exports hold this exclusively, reads shared.
 */
const LAYOUT_LOCK = join(CACHE_DIR, 'oci-layout.lock')
const locked = (mode: 'shared' | 'exclusive', args: string[]) => ['flock', mode === 'shared' ? '-s' : '-x', '-w', '1800', LAYOUT_LOCK, 'skopeo', ...args]

const idKey = (imageId: string) => imageId.replace(/^sha256:/, '').slice(0, 20)
const exists = (p: string) => stat(p).then(() => true, () => false)

async function skopeo(layout: 'shared' | 'exclusive', args: string[], what: string, hint: string): Promise<void> {
  await mkdir(CACHE_DIR, {recursive: true})
  const [cmd, ...rest] = locked(layout, args)
  const r = await execa(cmd, rest, {reject: false, timeout: 2_400_000})
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${what}: ${String(r.stderr).trim().split('\n').at(-1)}`, {hint})
  }
}

async function layoutHas(tag: string): Promise<boolean> {
  const [cmd, ...rest] = locked('shared', ['inspect', '--raw', `oci:${LAYOUT}:${tag}`])
  const r = await execa(cmd, rest, {reject: false})
  return r.exitCode === 0
}

const inFlight = new Map<string, Promise<string>>()

/** `oci:<layout>:<tag>` holding the local image; exported from the engine only the first time. */
export function localOci(localRef: string, imageId: string): Promise<string> {
  const tag = idKey(imageId)
  let p = inFlight.get(tag)
  if (!p) {
    p = (async () => {
      await mkdir(LAYOUT, {recursive: true})
      const oci = `oci:${LAYOUT}:${tag}`
      if (!(await layoutHas(tag))) {
        await skopeo('exclusive', ['copy', '--quiet', `docker-daemon:${localRef}`, oci], `cannot export ${localRef} from the local engine`, 'Build it first: `osctl image build`.')
      }
      return oci
    })().finally(() => inFlight.delete(tag))
    inFlight.set(tag, p)
  }
  return p
}

/** certDir: a directory holding the registry's CA (TLS); absent, the registry is plain HTTP. */
export async function publishImage(localRef: string, registryRef: string, imageId?: string, certDir?: string): Promise<void> {
  const source = imageId ? await localOci(localRef, imageId) : `docker-daemon:${localRef}`
  await skopeo(
    'shared',
    ['copy', '--quiet', ...(certDir ? ['--dest-cert-dir', certDir] : ['--dest-tls-verify=false']), source, `docker://${registryRef}`],
    `cannot push ${localRef} to ${registryRef}`,
    'Check that the registry in osctl.yml runs (`osctl system status registry`) and is reachable from this machine.',
  )
}

/** An OCI archive of a local image (for a host that cannot pull it), cached by image id. */
export async function ociArchiveStream(localRef: string, imageId: string): Promise<NodeJS.ReadableStream> {
  const file = join(ARCHIVES, `${idKey(imageId)}.tar`)
  if (!(await exists(file))) {
    await mkdir(ARCHIVES, {recursive: true})
    const partial = `${file}.${process.pid}.partial`
    try {
      await skopeo('shared', ['copy', '--quiet', await localOci(localRef, imageId), `oci-archive:${partial}`], `cannot export ${localRef} as an OCI archive`, 'Build it first: `osctl image build`.')
      await rename(partial, file)
    } finally {
      await rm(partial, {force: true})
    }
  }
  return createReadStream(file)
}
