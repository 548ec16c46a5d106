import {namespaceFlag, registryFlag, tagFlag} from '../cli/flags.js'
import {siteFlags} from '../base-command.js'
import {DockerClient, localDocker} from '../docker/docker-client.js'
import {IMAGES_DIR} from '../paths.js'
import {Reporter} from '../events/reporters.js'
import {ResolvedImageVars, resolveImageVars} from './image-vars.js'

/** Flags shared by the image commands: where the values come from, and per-run overrides. */
export const imageFlags = {
  site: siteFlags.site,
  registry: registryFlag({summary: 'Registry HOST:PORT for image refs (default: `registry` in osctl.yml, else localhost:4000).', helpGroup: 'IMAGE'}),
  namespace: namespaceFlag({summary: 'Namespace in the registry (default: `namespace` in osctl.yml, else osctl).', helpGroup: 'IMAGE'}),
  tag: tagFlag({summary: 'Image tag (default: `image_tag` in osctl.yml, else the release, zed).', helpGroup: 'IMAGE'}),
}

export interface ImageContext {
  docker: DockerClient
  /** The packaged images/, or OSCTL_IMAGES_DIR (tests build from a modified copy). */
  imagesDir: string
  resolved: ResolvedImageVars
}

export async function imageContext(
  flags: {site?: string; registry?: string; namespace?: string; tag?: string},
  reporter: Reporter,
): Promise<ImageContext> {
  const resolved = await resolveImageVars({siteDir: flags.site, registry: flags.registry, namespace: flags.namespace, tag: flags.tag})
  if (resolved.source === 'defaults') {
    const v = resolved.vars
    reporter.emit('image.defaults', {site: flags.site ?? '(none)', registry: v.registry, namespace: v.namespace, tag: v.tag, distro: `${v.base_distro} ${v.base_distro_release}`})
  }
  return {docker: localDocker(), imagesDir: process.env.OSCTL_IMAGES_DIR || IMAGES_DIR, resolved}
}
