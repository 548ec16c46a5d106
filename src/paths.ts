import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/**
 * The installed package root (holds units/, templates/, images/): the nearest directory above this
 * module with a package.json, whether it runs from src/, dist/ or a bundle chunk in dist/chunks/.
 */
export const PACKAGE_ROOT = packageRoot(dirname(fileURLToPath(import.meta.url)))
export const UNITS_DIR = join(PACKAGE_ROOT, 'units')
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates')
export const IMAGES_DIR = join(PACKAGE_ROOT, 'images')
/** Where osctl keeps caches on the machine running it (debootstrap tarballs, build stamps). */
export const CACHE_DIR = process.env.OSCTL_CACHE_DIR ?? '/var/cache/osctl'

function packageRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d
    if (dirname(d) === d) return join(dir, '..')
  }
}
