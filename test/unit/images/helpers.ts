import {chmod, cp, mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {ImageVars} from '../../../src/images/image-vars.js'
import {REPO_ROOT} from '../../helpers/cli.js'

export const VARS: ImageVars = {
  base_distro: 'debian',
  base_distro_release: 'bookworm',
  apt_mirror: 'http://deb.debian.org/debian',
  openstack_release: 'zed',
  registry: 'reg.test:4000',
  namespace: 'osctl',
  tag: 't1',
  rootfs_image: 'osctl-rootfs/debian-bookworm:abc',
}

export const ref = (name: string, vars: ImageVars = VARS) => `${vars.registry}/${vars.namespace}/${name}:${vars.tag}`

/** The mkdtemp roots (never anything above them) that cleanupDirs removes. */
const dirs: string[] = []

/** The shipped images these tests exercise: the system-container tree (base → etcd, registry). */
export const SHIPPED = ['base', 'etcd', 'registry']

/** A temp copy of those shipped images (so tests exercise the real templates and may change them). */
export async function copyShippedImages(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'osctl-images-'))
  dirs.push(root)
  for (const name of SHIPPED) await cp(join(REPO_ROOT, 'images', name), join(root, 'images', name), {recursive: true})
  return join(root, 'images')
}

/** images/<name>/Dockerfile.njk from a map; extra files as `name/file` keys. */
export async function makeImagesDir(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'osctl-images-'))
  dirs.push(root)
  const dir = join(root, 'images')
  for (const [key, content] of Object.entries(files)) {
    const path = key.includes('/') ? join(dir, key) : join(dir, key, 'Dockerfile.njk')
    await mkdir(join(path, '..'), {recursive: true})
    await writeFile(path, content)
  }
  return dir
}

export async function setMode(path: string, mode: number): Promise<void> {
  await chmod(path, mode)
}

export async function cleanupDirs(): Promise<void> {
  for (const d of dirs.splice(0)) {
    // A guard, because removing one level too high here once meant `rm -rf /tmp`.
    if (!/osctl-images-[^/]+$/.test(d)) throw new Error(`refusing to remove ${d}`)
    await rm(d, {recursive: true, force: true})
  }
}
