import {registryBaseUrl} from '../images/registry-http.js'
import type {Site} from './types.js'

/** A Docker tag: `image_tag` in osctl.yml and every --tag flag. */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
export const IMAGE_TAG_RULE = 'must be a Docker tag (letters, digits, _ . -, up to 128)'
/** A registry namespace: `namespace` in osctl.yml and --namespace. */
export const NAMESPACE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/
export const NAMESPACE_RULE = 'must be lower-case letters, digits and . _ - (not at either end)'

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

/** The registry API URL of a manifest (https when `tls: {registry: true}`). */
export function manifestUrl(site: Pick<Site, 'config'>, name: string, tag = site.config.imageTag): string {
  return `${registryBaseUrl(site)}/v2/${site.config.namespace}/${name}/manifests/${tag}`
}

/** `registry:port/osctl/name` of `registry:port/osctl/name:tag` (the tag is after the last `/`): the repository of Docker's RepoDigests. */
export const repositoryOf = (ref: string): string => ref.replace(/:[^/:]+$/, '')
