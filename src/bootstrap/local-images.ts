import {localDocker} from '../docker/docker-client.js'
import {buildImages} from '../images/build-images.js'
import {ensureRootfsImage} from '../images/debootstrap.js'
import {resolveImageVars} from '../images/image-vars.js'
import {IMAGES_DIR} from '../paths.js'
import {Reporter} from '../events/reporters.js'
import {Site} from '../site/types.js'
import {LocalImage} from './bootstrap.js'

/**
 * The images bootstrap ships, built on this machine when missing or stale (a no-op build takes
 * well under a second), keyed by image name with the engine's image id (the config digest).
 */
export async function localSystemImages(site: Site, names: string[], reporter: Reporter): Promise<Record<string, LocalImage>> {
  const docker = localDocker()
  const {vars, rootfs} = await resolveImageVars({siteDir: site.dir})
  const {images} = await buildImages({
    docker,
    imagesDir: process.env.OSCTL_IMAGES_DIR || IMAGES_DIR,
    vars,
    names,
    reporter,
    ensureRootfs: () => ensureRootfsImage(docker, rootfs, reporter),
  })
  const out: Record<string, LocalImage> = {}
  for (const image of images) {
    const info = await docker.inspectImage(image.ref)
    if (info) out[image.name] = {ref: image.ref, imageId: info.id}
  }
  return out
}
