import {execa} from 'execa'
import {mkdtemp, readdir, rm, symlink, mkdir, copyFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * A tiny image of Debian's busybox-static, imported into the local engine (no registry, no
 * Docker Hub): enough for engine-level tests. Reused when already there.
 */
export async function busyboxImage(ref = 'osctl-test/busybox:1'): Promise<string> {
  if ((await execa('docker', ['image', 'inspect', ref], {reject: false})).exitCode === 0) return ref
  const dir = await mkdtemp(join(tmpdir(), 'osctl-busybox-'))
  try {
    let got = await execa('apt-get', ['download', 'busybox-static'], {cwd: dir, reject: false})
    if (got.exitCode !== 0) {
      await execa('apt-get', ['update', '-qq'])
      got = await execa('apt-get', ['download', 'busybox-static'], {cwd: dir})
    }
    const deb = (await readdir(dir)).find((f) => f.endsWith('.deb'))!
    await execa('dpkg-deb', ['-x', join(dir, deb), join(dir, 'x')])
    const root = join(dir, 'root')
    await mkdir(join(root, 'bin'), {recursive: true})
    await copyFile(join(dir, 'x', 'bin', 'busybox'), join(root, 'bin', 'busybox'))
    for (const applet of ['sh', 'sleep', 'echo', 'true', 'false', 'cat', 'ls']) await symlink('busybox', join(root, 'bin', applet))
    await execa('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.'])
    await execa('docker', ['import', '--change', 'ENV PATH=/bin', '--change', 'CMD ["sh"]', join(dir, 'rootfs.tar'), ref])
    return ref
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
