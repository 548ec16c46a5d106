import {execa} from 'execa'
import {createReadStream} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {OsctlError} from '../errors.js'

/**
 * Moves images from the engine on the machine running osctl to where hosts get them. skopeo, not
 * `docker push`: the site registry is plain HTTP and the local engine need not be told about it.
 */
export async function publishImage(localRef: string, registryRef: string): Promise<void> {
  const r = await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${localRef}`, `docker://${registryRef}`], {reject: false, timeout: 600_000})
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `cannot push ${localRef} to ${registryRef}: ${String(r.stderr).trim().split('\n').at(-1)}`, {
      hint: 'Check that the registry in osctl.yml runs (`osctl system status registry`) and is reachable from this machine.',
    })
  }
}

/** An OCI archive of a local image, streamed to a host and deleted once read. */
export async function ociArchiveStream(localRef: string): Promise<NodeJS.ReadableStream> {
  const dir = await mkdtemp(join(tmpdir(), 'osctl-oci-'))
  const file = join(dir, 'image.tar')
  const r = await execa('skopeo', ['copy', '--quiet', `docker-daemon:${localRef}`, `oci-archive:${file}`], {reject: false, timeout: 600_000})
  if (r.exitCode !== 0) {
    await rm(dir, {recursive: true, force: true})
    throw new OsctlError('COMMAND_FAILED', `cannot export ${localRef} as an OCI archive: ${String(r.stderr).trim().split('\n').at(-1)}`, {
      hint: 'Build it first: `osctl image build`.',
    })
  }
  const stream = createReadStream(file)
  stream.on('close', () => void rm(dir, {recursive: true, force: true}))
  return stream
}
