import {createHash} from 'node:crypto'
import {lstat, readdir, readFile, readlink} from 'node:fs/promises'
import {join, relative, sep} from 'node:path'

import {TEMPLATE_NAME} from './image-graph.js'

/** Every file under dir (recursively), as sorted posix paths relative to dir. */
async function listFiles(dir: string, root = dir): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, {withFileTypes: true})) {
    const full = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await listFiles(full, root)))
    else out.push(relative(root, full).split(sep).join('/'))
  }
  return out.sort()
}

/**
 * What decides whether an image must be rebuilt: the rendered Dockerfile (so variables count),
 * every other file in its directory with its mode (an executable bit changes the image), and the
 * parents' hashes (so a change ripples down the tree, and only down it).
 */
export async function contextHash(dir: string, renderedDockerfile: string, parentHashes: string[]): Promise<string> {
  const h = createHash('sha256')
  // Length-prefixed fields, so no combination of names and contents can collide with another.
  const field = (label: string, data: string | Buffer) => {
    h.update(`${label}:${Buffer.byteLength(data)}:`)
    h.update(data)
  }
  field('dockerfile', renderedDockerfile)
  for (const rel of await listFiles(dir)) {
    if (rel === TEMPLATE_NAME) continue
    const full = join(dir, rel)
    const st = await lstat(full)
    field('path', rel)
    field('mode', (st.mode & 0o777).toString(8))
    field('data', st.isSymbolicLink() ? `symlink:${await readlink(full)}` : await readFile(full))
  }
  for (const p of parentHashes) field('parent', p)
  return `sha256:${h.digest('hex')}`
}
