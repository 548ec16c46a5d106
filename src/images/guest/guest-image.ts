import {execa} from 'execa'
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'

import {OsctlError} from '../../errors.js'
import {Reporter, silentReporter} from '../../events/reporters.js'
import {CACHE_DIR, IMAGES_DIR} from '../../paths.js'
import {guestCacheKey, readGuestFiles} from './guest-key.js'
import {checkGuestTools, fetchGuestPackages, resolveGuestPackages} from './guest-packages.js'
import {parseModuleList, resolveModules} from './module-deps.js'

/** The glance image name the demo and post-deploy give the guest. */
export const GUEST_IMAGE_NAME = 'osctl-guest'
export const GUEST_DIR = join(IMAGES_DIR, 'guest')
const DISK = `${GUEST_IMAGE_NAME}.qcow2`

export interface GuestImage {
  /** The disk: the cached file, or the copy at --out. */
  path: string
  format: 'qcow2'
  /** Bytes of the qcow2 file. */
  size: number
  /** sha256 of the qcow2 file. */
  digest: string
  /** Cache key: digest of images/guest/ and the package versions. */
  key: string
  kernel: string
  packages: Record<string, string>
  /** False when this call built it, true when the cache had it. */
  cached: boolean
  cachePath: string
}

export interface GuestBuildOptions {
  /** Copy the disk here (atomically); default: only the cache. */
  out?: string
  cacheDir?: string
  guestDir?: string
  reporter?: Reporter
}

interface CacheRecord {
  digest: string
  size: number
  kernel: string
  packages: Record<string, string>
}

/**
 * The test guest's qcow2 disk (Debian cloud kernel + busybox initramfs, syslinux on a FAT
 * partition), built once per content under <cache>/guest/<key>/ and shared by the tests, the demo
 * and post-deploy. Inputs come only from the Debian mirror apt is configured with.
 */
export async function buildGuestImage(opts: GuestBuildOptions = {}): Promise<GuestImage> {
  const reporter = opts.reporter ?? silentReporter
  const guestDir = opts.guestDir ?? GUEST_DIR
  const cacheRoot = join(opts.cacheDir ?? CACHE_DIR, 'guest')
  await checkGuestTools()
  const pkgs = await resolveGuestPackages()
  const key = guestCacheKey({files: await readGuestFiles(guestDir), packages: pkgs.versions})
  const entry = join(cacheRoot, key.slice(0, 16))
  let record = await readRecord(entry)
  const cached = record !== null
  if (record) {
    reporter.emit('guest.cached', {key, path: join(entry, DISK)})
  } else {
    await mkdir(cacheRoot, {recursive: true})
    const started = Date.now()
    reporter.emit('guest.build.start', {key, kernel: pkgs.kernelPackage})
    const work = await mkdtemp(join(cacheRoot, 'build-'))
    try {
      record = await buildInto(work, guestDir, pkgs)
      await rm(join(work, 'pkgs'), {recursive: true, force: true})
      // A concurrent build of the same key may have won: its result is as good as ours.
      await rename(work, entry).catch(async () => {
        if ((await readRecord(entry)) !== null) return
        await rm(entry, {recursive: true, force: true}) // a broken entry (no record, wrong size)
        await rename(work, entry)
      })
    } finally {
      await rm(work, {recursive: true, force: true})
    }
    reporter.emit('guest.build.done', {key, path: join(entry, DISK), seconds: (Date.now() - started) / 1000, bytes: record.size})
  }
  const cachePath = join(entry, DISK)
  let path = cachePath
  if (opts.out) {
    path = resolve(opts.out)
    await mkdir(dirname(path), {recursive: true})
    const partial = `${path}.partial-${process.pid}`
    await copyFile(cachePath, partial)
    await chmod(partial, 0o644)
    await rename(partial, path)
  }
  return {path, format: 'qcow2', size: record.size, digest: record.digest, key, kernel: record.kernel, packages: record.packages, cached, cachePath}
}

async function readRecord(entry: string): Promise<CacheRecord | null> {
  try {
    const rec = JSON.parse(await readFile(join(entry, 'guest.json'), 'utf8')) as CacheRecord
    const st = await stat(join(entry, DISK))
    return st.size === rec.size ? rec : null
  } catch {
    return null
  }
}

async function buildInto(work: string, guestDir: string, pkgs: Awaited<ReturnType<typeof resolveGuestPackages>>): Promise<CacheRecord> {
  const pkgDir = join(work, 'pkgs')
  await mkdir(pkgDir)
  const root = await fetchGuestPackages(pkgs, pkgDir)
  const versions = await readdir(join(root, 'lib', 'modules'))
  if (versions.length !== 1) throw new OsctlError('BUILD_FAILED', `expected one kernel in ${pkgs.kernelPackage}, found ${versions.join(', ') || 'none'}`)
  const kernel = versions[0]
  const kdir = join(root, 'lib', 'modules', kernel)
  // The package ships no modules.dep (its postinst runs depmod): make it for the unpacked tree.
  await execa('depmod', ['-b', root, kernel], {env: {PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`}})
  const wanted = parseModuleList(await readFile(join(guestDir, 'modules'), 'utf8'))
  const mods = resolveModules(wanted, await readFile(join(kdir, 'modules.dep'), 'utf8'), await readFile(join(kdir, 'modules.builtin'), 'utf8'))

  const initramfs = join(work, 'initramfs')
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run']) await mkdir(join(initramfs, d), {recursive: true})
  await copyFile(join(root, 'bin', 'busybox'), join(initramfs, 'bin', 'busybox'))
  await copyFile(join(guestDir, 'init'), join(initramfs, 'init'))
  await copyFile(join(guestDir, 'udhcpc.script'), join(initramfs, 'etc', 'udhcpc.script'))
  for (const f of ['bin/busybox', 'init', 'etc/udhcpc.script']) await chmod(join(initramfs, f), 0o755)
  for (const m of mods.load) {
    await mkdir(dirname(join(initramfs, 'lib', 'modules', kernel, m)), {recursive: true})
    await copyFile(join(kdir, m), join(initramfs, 'lib', 'modules', kernel, m))
  }
  await writeFile(join(initramfs, 'etc', 'modules.load'), mods.load.join('\n') + '\n')
  await copyFile(join(root, 'boot', `vmlinuz-${kernel}`), join(work, 'vmlinuz'))

  const r = await execa('sh', [join(guestDir, 'build-disk.sh'), work, join(work, DISK)], {reject: false, all: true, env: {PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`}})
  if (r.exitCode !== 0) {
    throw new OsctlError('BUILD_FAILED', `build-disk.sh failed (exit ${r.exitCode})`, {details: String(r.all ?? '').split('\n').slice(-15)})
  }
  await rm(initramfs, {recursive: true, force: true})
  for (const f of ['vmlinuz', 'initrd.gz']) await rm(join(work, f), {force: true})
  const record: CacheRecord = {digest: await sha256File(join(work, DISK)), size: (await stat(join(work, DISK))).size, kernel, packages: pkgs.versions}
  await writeFile(join(work, 'guest.json'), JSON.stringify(record, null, 2) + '\n')
  return record
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer)
  return `sha256:${h.digest('hex')}`
}
