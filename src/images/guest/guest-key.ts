import {createHash} from 'node:crypto'
import {lstat, readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

export interface GuestFile {
  /** Relative to images/guest/. */
  path: string
  mode: number
  data: Buffer | string
}

export interface GuestInputs {
  /** Every file of images/guest/ (init, lease script, syslinux.cfg, module list, build script). */
  files: GuestFile[]
  /** Debian package → version: the kernel, busybox-static and the boot loader. */
  packages: Record<string, string>
}

/**
 * The cache key of a guest disk: the same files and package versions give the same disk, so it is
 * built once per content. Length-prefixed fields in a fixed order: no two inputs share a key by
 * moving bytes between names and contents, and neither file nor package order matters.
 */
export function guestCacheKey(inputs: GuestInputs): string {
  const h = createHash('sha256')
  const field = (label: string, data: string | Buffer) => {
    h.update(`${label}:${Buffer.byteLength(data)}:`)
    h.update(data)
  }
  field('format', 'osctl-guest/1')
  for (const f of [...inputs.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    field('path', f.path)
    field('mode', (f.mode & 0o777).toString(8))
    field('data', f.data)
  }
  for (const name of Object.keys(inputs.packages).sort()) {
    field('package', name)
    field('version', inputs.packages[name])
  }
  return h.digest('hex')
}

/** The regular files of the guest directory (it is flat), with their modes. */
export async function readGuestFiles(dir: string): Promise<GuestFile[]> {
  const files: GuestFile[] = []
  for (const e of await readdir(dir, {withFileTypes: true})) {
    if (!e.isFile()) continue
    const full = join(dir, e.name)
    files.push({path: e.name, mode: (await lstat(full)).mode, data: await readFile(full)})
  }
  return files
}
