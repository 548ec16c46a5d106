import {execa} from 'execa'
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {mkdir, rename, rm, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {DockerClient} from '../docker/docker-client.js'
import {OsctlError} from '../errors.js'
import {CACHE_DIR} from '../paths.js'
import {withFileLock} from '../site/file-lock.js'
import {Reporter, silentReporter} from '../events/reporters.js'

export interface RootfsSpec {
  suite: string
  mirror: string
  variant?: 'minbase' | 'buildd'
  include?: string[]
  /**
   * Drop docs, man pages and translations (about 45 MB of a 117 MB minbase) and keep dpkg from
   * installing them later: for image bases. Lab hosts, which imitate real servers, leave it off.
   */
  slim?: boolean
}

/** Same spec, same key: the tarball and the imported image are reused across runs and commands. */
export function rootfsKey(spec: RootfsSpec): string {
  const canonical = JSON.stringify({
    suite: spec.suite,
    mirror: spec.mirror,
    variant: spec.variant ?? 'minbase',
    include: [...(spec.include ?? [])].sort(),
    // Only when set, so the keys (and caches) of existing non-slim specs stay what they were.
    ...(spec.slim ? {slim: true} : {}),
  })
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12)
}

export function rootfsRef(spec: RootfsSpec): string {
  return `osctl-rootfs/debian-${spec.suite}:${rootfsKey(spec)}`
}

const inFlight = new Map<string, Promise<string>>()

/**
 * A Debian root filesystem made by debootstrap and imported into Docker: the only way to get a base
 * image here (no Docker Hub). Cached twice: as a tarball under CACHE_DIR and as the imported image.
 */
export function ensureRootfsImage(docker: DockerClient, spec: RootfsSpec, reporter: Reporter = silentReporter): Promise<string> {
  const ref = rootfsRef(spec)
  let p = inFlight.get(ref)
  if (!p) {
    p = doEnsure(docker, spec, ref, reporter).finally(() => inFlight.delete(ref))
    inFlight.set(ref, p)
  }
  return p
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

async function doEnsure(docker: DockerClient, spec: RootfsSpec, ref: string, reporter: Reporter): Promise<string> {
  if (await docker.inspectImage(ref)) return ref
  const key = rootfsKey(spec)
  const dir = join(CACHE_DIR, 'rootfs')
  const tarball = join(dir, `${key}.tar`)
  await mkdir(dir, {recursive: true})
  // Another osctl process (two `lab up` at once) may be making the same tarball in the same work dir.
  await withFileLock(join(dir, `${key}.lock`), async () => {
    if (await exists(tarball)) return
    reporter.emit('rootfs.debootstrap', {ref, suite: spec.suite, variant: spec.variant ?? 'minbase'})
    await debootstrapTarball(spec, join(dir, `work-${key}`), tarball)
  }, {waitMs: 1_800_000, everyMs: 1000})
  reporter.emit('rootfs.import', {ref})
  await docker.importImage(createReadStream(tarball), ref, [
    'LABEL io.osctl.managed=true',
    `LABEL io.osctl.rootfs=${key}`,
    'ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive',
    'CMD ["/bin/bash"]',
  ])
  reporter.emit('rootfs.done', {ref})
  return ref
}

async function debootstrapTarball(spec: RootfsSpec, work: string, tarball: string): Promise<void> {
  await cleanupWorkDir(work)
  const args = [`--variant=${spec.variant ?? 'minbase'}`]
  if (spec.include?.length) args.push(`--include=${spec.include.join(',')}`)
  args.push(spec.suite, work, spec.mirror)
  const r = await execa('debootstrap', args, {reject: false, all: true})
  if (r.exitCode !== 0) {
    await cleanupWorkDir(work)
    const tail = String(r.all ?? '').split('\n').slice(-15)
    throw new OsctlError('BUILD_FAILED', `debootstrap ${spec.suite} from ${spec.mirror} failed (exit ${r.exitCode})`, {
      details: tail,
      hint: r.failed && (r as any).code === 'ENOENT' ? 'Install debootstrap: apt-get install debootstrap' : 'Check apt_mirror in osctl.yml and that the mirror is reachable.',
    })
  }
  // Caches and logs make the image bigger and differ between runs; drop them.
  await execa('sh', ['-c', `rm -rf "${work}"/var/cache/apt/archives/*.deb "${work}"/var/lib/apt/lists/* "${work}"/var/log/* "${work}"/debootstrap`])
  if (spec.slim) await slimRootfs(work)
  const partial = `${tarball}.partial`
  await execa('tar', ['--numeric-owner', '-C', work, '-cf', partial, '.'])
  await rename(partial, tarball)
  await cleanupWorkDir(work)
}

/** debootstrap can leave /proc and /sys mounted in its target when it fails. */
async function cleanupWorkDir(work: string): Promise<void> {
  if (!(await exists(work))) return
  for (const m of ['proc', 'sys', 'dev/pts', 'dev']) await execa('umount', ['-l', join(work, m)], {reject: false})
  await rm(work, {recursive: true, force: true})
}

/** dpkg path filters: the same list images/base installs, so later apt-get installs stay slim too. */
const NODOC = [
  'path-exclude /usr/share/doc/*',
  'path-include /usr/share/doc/*/copyright',
  'path-exclude /usr/share/man/*',
  'path-exclude /usr/share/info/*',
  'path-exclude /usr/share/groff/*',
  'path-exclude /usr/share/lintian/*',
  'path-exclude /usr/share/linda/*',
  'path-exclude /usr/share/locale/*',
  'path-include /usr/share/locale/locale.alias',
]

async function slimRootfs(work: string): Promise<void> {
  const script = [
    // Licences stay (copyright files); everything else under doc/ goes.
    `find "${work}/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete`,
    `find "${work}/usr/share/doc" -mindepth 1 -type d -empty -delete`,
    `rm -rf "${work}"/usr/share/man/* "${work}"/usr/share/info/* "${work}"/usr/share/groff/* "${work}"/usr/share/lintian/*`,
    `find "${work}/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +`,
    `mkdir -p "${work}/etc/dpkg/dpkg.cfg.d"`,
  ].join(' && ')
  await execa('sh', ['-c', script])
  await writeFile(join(work, 'etc', 'dpkg', 'dpkg.cfg.d', '90osctl-nodoc'), NODOC.join('\n') + '\n')
}
