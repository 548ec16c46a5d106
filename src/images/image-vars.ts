import {stat} from 'node:fs/promises'

import {siteCaFile} from '../certificates/registry-tls.js'
import {imageRef as siteRef} from '../site/image-ref.js'
import {loadSite} from '../site/load-site.js'
import {rootfsRef, RootfsSpec} from './debootstrap.js'

/** The variables every images/<name>/Dockerfile.njk sees (snake_case, like kolla's globals). */
export interface ImageVars {
  base_distro: string
  base_distro_release: string
  apt_mirror: string
  openstack_release: string
  registry: string
  namespace: string
  tag: string
  /** The debootstrap image ref; only `base` builds FROM it. */
  rootfs_image: string
}

export interface ImageVarsInput {
  siteDir?: string
  registry?: string
  namespace?: string
  tag?: string
}

export interface ResolvedImageVars {
  vars: ImageVars
  rootfs: RootfsSpec
  /** Where the values came from: the site's osctl.yml, or built-in defaults (no site dir). */
  source: 'site' | 'defaults'
  /** SITE/certificates/ca/ca.crt when the images go to the site's registry and it speaks TLS. */
  registryCa?: string
}

/** Defaults match a fresh site: the registry runs on the deploy host on :4000. */
export const IMAGE_DEFAULTS = {
  base_distro: 'debian',
  base_distro_release: 'bookworm',
  apt_mirror: 'http://deb.debian.org/debian',
  openstack_release: 'zed',
  registry: 'localhost:4000',
  namespace: 'osctl',
  tag: 'zed',
} as const

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )
}

/**
 * Values come from osctl.yml when the site dir exists (an invalid site is an error, never silently
 * ignored), else from defaults so images can be built on a machine with no site yet; flags win.
 */
export async function resolveImageVars(input: ImageVarsInput): Promise<ResolvedImageVars> {
  let base: Omit<ImageVars, 'rootfs_image'> = {...IMAGE_DEFAULTS}
  let source: ResolvedImageVars['source'] = 'defaults'
  let tls: {registry: string; ca: string} | undefined
  if (input.siteDir && (await isDir(input.siteDir))) {
    const site = await loadSite(input.siteDir)
    const c = site.config
    if (c.tls.registry) tls = {registry: c.registry, ca: siteCaFile(site)}
    base = {
      base_distro: c.baseDistro,
      base_distro_release: c.baseDistroRelease,
      apt_mirror: c.aptMirror,
      openstack_release: c.openstackRelease,
      registry: c.registry,
      namespace: c.namespace,
      tag: c.imageTag,
    }
    source = 'site'
  }
  const vars = {
    ...base,
    registry: input.registry ?? base.registry,
    namespace: input.namespace ?? base.namespace,
    tag: input.tag ?? base.tag,
  }
  const rootfs: RootfsSpec = {suite: vars.base_distro_release, mirror: vars.apt_mirror, variant: 'minbase', slim: true}
  const registryCa = tls && tls.registry === vars.registry ? tls.ca : undefined
  return {vars: {...vars, rootfs_image: rootfsRef(rootfs)}, rootfs, source, ...(registryCa ? {registryCa} : {})}
}

/** An image this build produces: the site's reference for it at the build's tag. */
export function imageRef(vars: Pick<ImageVars, 'registry' | 'namespace' | 'tag'>, name: string): string {
  return siteRef(vars, name, vars.tag)
}
