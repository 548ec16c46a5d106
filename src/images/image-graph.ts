import {readdir, readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {OsctlError} from '../errors.js'
import {FromLine, parseFromLines} from './dockerfile-from.js'
import {renderDockerfile} from './dockerfile-template.js'
import {ImageVars, imageRef} from './image-vars.js'

export const TEMPLATE_NAME = 'Dockerfile.njk'

export interface ImageDef {
  name: string
  dir: string
  ref: string
  /** The rendered Dockerfile.njk. */
  dockerfile: string
  froms: FromLine[]
  /** osctl images this one builds FROM (any stage), in Dockerfile order. */
  parents: string[]
  /** The parent of the final stage when it is an osctl image, else the first osctl parent. */
  parent: string | null
  /** What the final stage starts from, resolved through earlier stages (e.g. the rootfs ref for base). */
  from: string
}

export interface ImageGraph {
  imagesDir: string
  /** Every image directory, sorted. */
  known: string[]
  /** The images asked for plus their ancestors, parents before children. */
  order: string[]
  images: Map<string, ImageDef>
}

const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/

/** Image directories: those holding a Dockerfile.njk (anything else in images/ is ignored). */
export async function listImageNames(imagesDir: string): Promise<string[]> {
  let entries
  try {
    entries = await readdir(imagesDir, {withFileTypes: true})
  } catch (err) {
    throw new OsctlError('CONFIG_MISSING', `images directory ${imagesDir} does not exist`, {
      location: imagesDir,
      hint: 'unset OSCTL_IMAGES_DIR or point it at a directory of images/<name>/Dockerfile.njk',
      cause: err,
    })
  }
  const names: string[] = []
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue
    const has = await stat(join(imagesDir, e.name, TEMPLATE_NAME)).then(
      () => true,
      () => false,
    )
    if (!has) continue
    if (!NAME.test(e.name)) {
      throw new OsctlError('CONFIG_INVALID', `image directory name ${e.name} is not a valid image name`, {
        location: join(imagesDir, e.name),
        hint: 'use lower-case letters, digits and . _ - (it becomes <registry>/<namespace>/<name>)',
      })
    }
    names.push(e.name)
  }
  return names.sort()
}

/**
 * Renders the asked-for images and their ancestors (only those: a broken template in an unrelated
 * image does not block a build) and orders them parents first. Parents come from the rendered FROM
 * lines, so the Dockerfile is the single source of truth, as in kolla.
 */
export async function loadImageGraph(imagesDir: string, vars: ImageVars, names?: string[]): Promise<ImageGraph> {
  const known = await listImageNames(imagesDir)
  const wanted = names && names.length > 0 ? [...new Set(names)] : known
  const unknown = wanted.filter((n) => !known.includes(n))
  if (unknown.length > 0) {
    throw new OsctlError('IMAGE_UNKNOWN', `unknown image${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known images: ${known.join(', ')}`, {
      hint: `each image is a directory ${imagesDir}/<name>/ with a ${TEMPLATE_NAME}`,
      details: {unknown, known},
    })
  }
  const refs = new Map(known.map((n) => [imageRef(vars, n), n]))
  const images = new Map<string, ImageDef>()
  const queue = [...wanted]
  while (queue.length > 0) {
    const name = queue.shift()!
    if (images.has(name)) continue
    const def = await loadImage(imagesDir, name, vars, known, refs)
    images.set(name, def)
    queue.push(...def.parents)
  }
  return {imagesDir, known, order: topoOrder(images), images}
}

async function loadImage(imagesDir: string, name: string, vars: ImageVars, known: string[], refs: Map<string, string>): Promise<ImageDef> {
  const dir = join(imagesDir, name)
  const file = join(dir, TEMPLATE_NAME)
  const dockerfile = renderDockerfile({file, source: await readFile(file, 'utf8'), vars, known})
  const froms = parseFromLines(dockerfile)
  if (froms.length === 0) {
    throw new OsctlError('CONFIG_INVALID', `${TEMPLATE_NAME} of image ${name} has no FROM line`, {
      location: file,
      hint: "start it with FROM {{ image('base') }} (or FROM {{ rootfs_image }} for a new root image)",
    })
  }
  const parents = [...new Set(froms.filter((f) => !f.isStage && refs.has(f.ref)).map((f) => refs.get(f.ref)!))]
  const last = resolveStage(froms, froms.length - 1)
  const lastParent = refs.get(last)
  return {name, dir, ref: imageRef(vars, name), dockerfile, froms, parents, parent: lastParent ?? parents[0] ?? null, from: last}
}

/** `FROM builder` where builder is an earlier `AS builder`: follow it back to a real image. */
function resolveStage(froms: FromLine[], index: number): string {
  const f = froms[index]
  if (!f.isStage) return f.ref
  for (let i = index - 1; i >= 0; i--) if (froms[i].stage === f.ref.toLowerCase()) return resolveStage(froms, i)
  return f.ref
}

/** Depth-first, parents first; a back edge is a cycle, reported with its full path. */
function topoOrder(images: Map<string, ImageDef>): string[] {
  const order: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, path: string[]): void => {
    const s = state.get(name)
    if (s === 'done') return
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name]
      throw new OsctlError('CONFIG_INVALID', `image dependency cycle: ${cycle.join(' → ')}`, {
        location: join(images.get(name)!.dir, TEMPLATE_NAME),
        hint: 'an image cannot build FROM itself or its own descendants; fix the FROM lines',
        details: {cycle},
      })
    }
    state.set(name, 'visiting')
    for (const p of images.get(name)!.parents) visit(p, [...path, name])
    state.set(name, 'done')
    order.push(name)
  }
  for (const name of [...images.keys()].sort()) visit(name, [])
  return order
}
