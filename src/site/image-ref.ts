import type {Site} from './types.js'

interface Where {
  registry: string
  namespace: string
}

/** `<registry>/<namespace>/<name>:<tag>`: the one place an image reference is spelled. */
export function imageRef(where: Where, name: string, tag: string): string {
  return `${imagePrefix(where)}${name}:${tag}`
}

/** `<registry>/<namespace>/`: every image of the site starts with it. */
export function imagePrefix(where: Where): string {
  return `${where.registry}/${where.namespace}/`
}

/** The site's image `name` at `tag` (default: the site's image_tag). */
export function siteImageRef(site: Pick<Site, 'config'>, name: string, tag = site.config.imageTag): string {
  return imageRef(site.config, name, tag)
}

/** The registry API URL of a manifest (the plain-HTTP site registry). */
export function manifestUrl(site: Pick<Site, 'config'>, name: string, tag = site.config.imageTag): string {
  return `http://${site.config.registry}/v2/${site.config.namespace}/${name}/manifests/${tag}`
}
