import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The installed package root (holds units/, templates/, images/), whether running from dist/ or src/. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const UNITS_DIR = join(PACKAGE_ROOT, 'units')
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates')
export const IMAGES_DIR = join(PACKAGE_ROOT, 'images')
/** Where osctl keeps caches on the machine running it (debootstrap tarballs, build stamps). */
export const CACHE_DIR = process.env.OSCTL_CACHE_DIR ?? '/var/cache/osctl'
