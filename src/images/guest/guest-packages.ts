import {execa} from 'execa'
import {access} from 'node:fs/promises'

import {ExitCode, OsctlError} from '../../errors.js'

/** The guest's Debian packages: a metapackage that names the current cloud kernel, and busybox. */
export const KERNEL_META = 'linux-image-cloud-amd64'
export const BUSYBOX = 'busybox-static'
export const SYSLINUX_MBR = '/usr/lib/syslinux/mbr/mbr.bin'

/** Host commands the build runs, and the Debian package of each (for the hint). */
export const GUEST_TOOLS: Record<string, string> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  'dpkg-query': 'dpkg',
  depmod: 'kmod',
  cpio: 'cpio',
  gzip: 'gzip',
  sfdisk: 'fdisk',
  'mkfs.fat': 'dosfstools',
  mcopy: 'mtools',
  syslinux: 'syslinux',
  'qemu-img': 'qemu-utils',
}

/** What `apt-get install` needs for a guest build on a fresh bookworm machine. */
export const GUEST_TOOL_PACKAGES = [...new Set([...Object.values(GUEST_TOOLS), 'syslinux-common'])].sort()

const PATH = `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`

/** Every missing tool is named at once, with the apt-get line that installs them. Exit 5: a prerequisite. */
export async function checkGuestTools(): Promise<void> {
  const tools = Object.keys(GUEST_TOOLS)
  const r = await execa('/bin/sh', ['-c', 'for t in "$@"; do command -v "$t" >/dev/null || echo "$t"; done', 'sh', ...tools], {reject: false, env: {PATH}})
  const missing = r.stdout.split('\n').filter((t) => tools.includes(t))
  const mbr = await access(SYSLINUX_MBR).then(() => true, () => false)
  if (missing.length === 0 && mbr) return
  const pkgs = [...new Set([...missing.map((t) => GUEST_TOOLS[t]), ...(mbr ? [] : ['syslinux-common'])])].sort()
  throw new OsctlError('BUILD_FAILED', `the guest build needs ${[...missing, ...(mbr ? [] : [SYSLINUX_MBR])].join(', ')} on this machine`, {
    exitCode: ExitCode.UNREACHABLE,
    hint: `apt-get install --no-install-recommends ${pkgs.join(' ')}`,
  })
}

export interface AptRecord {
  package: string
  version: string
  depends: string
}

/** The records of `apt-cache show --no-all-versions A B …`: each package's candidate. */
export function parseAptShow(text: string): Map<string, AptRecord> {
  const out = new Map<string, AptRecord>()
  for (const para of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(para)?.[1].trim() ?? ''
    const pkg = field('Package')
    if (pkg && !out.has(pkg)) out.set(pkg, {package: pkg, version: field('Version'), depends: field('Depends')})
  }
  return out
}

/** The versioned kernel a metapackage pins (`linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3)`). */
export function parseKernelDepends(depends: string): {name: string; version: string} | null {
  const m = /(?:^|,)\s*(linux-image-\d[^\s,(]*)\s*\(=\s*([^)\s]+)\s*\)/.exec(depends)
  return m ? {name: m[1], version: m[2]} : null
}

async function run(cmd: string, args: string[], cwd?: string, missingIsUnreachable = false): Promise<string> {
  const r = await execa(cmd, args, {reject: false, cwd, env: {PATH, LC_ALL: 'C'}, all: true})
  if (r.exitCode !== 0 && missingIsUnreachable && /No packages found|Unable to locate/.test(String(r.all))) {
    throw new OsctlError('BUILD_FAILED', `apt knows no ${args.slice(2).join(' or ')}: ${String(r.all).trim().split('\n')[0]}`, {
      exitCode: ExitCode.UNREACHABLE,
      hint: 'run apt-get update (the guest is made from the Debian mirror in /etc/apt/sources.list*)',
    })
  }
  if (r.exitCode !== 0) {
    throw new OsctlError('BUILD_FAILED', `${cmd} ${args.join(' ')} failed (exit ${r.exitCode})`, {
      details: String(r.all ?? '').split('\n').slice(-15),
    })
  }
  return r.stdout
}

export interface GuestPackages {
  kernelPackage: string
  /** Package → version: what goes into the guest, plus the host's boot loader (it writes the disk). */
  versions: Record<string, string>
}

/** Resolves the candidate versions from the local apt lists (no network; one apt-cache run: it is slow). */
export async function resolveGuestPackages(): Promise<GuestPackages> {
  const shown = parseAptShow(await run('apt-cache', ['show', '--no-all-versions', KERNEL_META, BUSYBOX], undefined, true))
  const missing = [KERNEL_META, BUSYBOX].filter((p) => !shown.get(p)?.version)
  if (missing.length > 0) {
    throw new OsctlError('BUILD_FAILED', `apt knows no installable version of ${missing.join(', ')}`, {
      exitCode: ExitCode.UNREACHABLE,
      hint: 'run apt-get update (the guest is made from the Debian mirror in /etc/apt/sources.list*)',
    })
  }
  const kernel = parseKernelDepends(shown.get(KERNEL_META)!.depends)
  if (!kernel) throw new OsctlError('BUILD_FAILED', `${KERNEL_META} ${shown.get(KERNEL_META)!.version} pins no linux-image package`)
  const installed = await run('dpkg-query', ['-W', '-f', '${Package} ${Version}\\n', 'syslinux', 'syslinux-common'])
  const versions: Record<string, string> = {[kernel.name]: kernel.version, [BUSYBOX]: shown.get(BUSYBOX)!.version}
  for (const line of installed.split('\n').filter(Boolean)) {
    const [name, version] = line.split(' ')
    versions[`host:${name}`] = version
  }
  return {kernelPackage: kernel.name, versions}
}

/** Downloads the guest's packages (not the host's) into dir and unpacks them into dir/root. */
export async function fetchGuestPackages(pkgs: GuestPackages, dir: string): Promise<string> {
  const wanted = Object.entries(pkgs.versions).filter(([name]) => !name.startsWith('host:'))
  await run('apt-get', ['download', '-q', ...wanted.map(([n, v]) => `${n}=${v}`)], dir)
  const debs = (await run('sh', ['-c', 'ls *.deb'], dir)).split('\n').filter(Boolean)
  for (const deb of debs) await run('dpkg-deb', ['-x', deb, 'root'], dir)
  return `${dir}/root`
}
