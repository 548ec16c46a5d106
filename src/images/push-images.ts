import {DockerClient} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'
import {Reporter} from '../events/reporters.js'
import type {ImageResult} from './build-images.js'

/**
 * Pushes every built or unchanged image (an unchanged image may never have reached this registry),
 * parents first so children's shared layers are already there. Marks each result's `pushed` and
 * returns one error per failed push; the caller decides how the run ends.
 */
export async function pushImages(
  docker: DockerClient,
  images: ImageResult[],
  registry: string,
  reporter: Reporter,
  /** The registry's CA for skopeo on this machine, when the site registry speaks TLS. */
  certDir?: string,
): Promise<OsctlError[]> {
  const errors: OsctlError[] = []
  for (const image of images) {
    if (image.status === 'failed' || image.status === 'skipped') continue
    // One at a time: children reuse the layers their parent just pushed.
    {
      const started = Date.now()
      reporter.emit('image.push.start', {image: image.name, registry})
      try {
        await (certDir ? docker.pushImage(image.ref, undefined, {certDir}) : docker.pushImage(image.ref))
        image.pushed = true
        reporter.emit('image.push.done', {image: image.name, ref: image.ref, seconds: (Date.now() - started) / 1000})
      } catch (err) {
        image.pushed = false
        const msg = errorMessage(err).split('\n')[0]
        reporter.emit('image.push.failed', {image: image.name, registry, error: msg})
        errors.push(
          new OsctlError('COMMAND_FAILED', `push of ${image.name} to registry ${registry} failed: ${msg}`, {
            hint: `check \`registry:\` in osctl.yml (or --registry) and that a registry answers at http://${registry}/v2/ (osctl system status registry)`,
            cause: err,
          }),
        )
      }
    }
  }
  return errors
}
