import {execa} from 'execa'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {GUEST_DIR} from '../../../src/images/guest/guest-image.js'
import {guestCacheKey, readGuestFiles} from '../../../src/images/guest/guest-key.js'
import {GUEST_TOOL_PACKAGES, parseAptShow, parseKernelDepends} from '../../../src/images/guest/guest-packages.js'
import {moduleName, parseModuleList, resolveModules} from '../../../src/images/guest/module-deps.js'
import {REPO_ROOT} from '../../helpers/cli.js'

// The lines of a real bookworm cloud kernel's modules.dep (depmod output) the guest needs, in depmod's order.
const DEP = [
  'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio_ring.ko:',
  'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
  'kernel/net/core/failover.ko:',
  'kernel/drivers/virtio/virtio_pci_legacy_dev.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/virtio/virtio_pci_modern_dev.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
].join('\n')
const BUILTIN = 'kernel/net/packet/af_packet.ko\nkernel/drivers/block/loop.ko\n'
const short = (p: string) => moduleName(p)

describe('guest kernel modules from modules.dep', () => {
  it('loads every module after the modules it needs, each once, only what was asked for and its dependencies', () => {
    const {load, builtin} = resolveModules(['virtio_pci', 'virtio_net', 'virtio_blk'], DEP, BUILTIN)
    expect(builtin).toEqual([])
    expect(new Set(load.map(short))).toEqual(new Set(['virtio_ring', 'virtio', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci', 'failover', 'net_failover', 'virtio_net', 'virtio_blk']))
    expect(load.length).toBe(9)
    const at = (n: string) => load.map(short).indexOf(n)
    // modules.dep lists net_failover before failover: the order must come from the graph, not the line.
    expect(at('failover')).toBeLessThan(at('net_failover'))
    expect(at('net_failover')).toBeLessThan(at('virtio_net'))
    expect(at('virtio_ring')).toBeLessThan(at('virtio'))
    for (const m of ['virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio']) expect(at(m)).toBeLessThan(at('virtio_pci'))
    expect(load).toContain('kernel/drivers/net/virtio_net.ko')
  })

  it('matches names with dashes or underscores, and skips modules built into the kernel', () => {
    const r = resolveModules(['virtio_rng', 'af-packet'], DEP, BUILTIN)
    expect(r.load.map(short)).toEqual(['virtio_ring', 'virtio', 'virtio_rng'])
    expect(r.load.at(-1)).toBe('kernel/drivers/char/hw_random/virtio-rng.ko')
    expect(r.builtin).toEqual(['af_packet'])
  })

  it('refuses a module the kernel does not have, a dependency modules.dep does not list, a cycle and a broken line', () => {
    expect(() => resolveModules(['e1000'], DEP, BUILTIN)).toThrow(/e1000 is neither a module of this kernel nor built in/)
    expect(() => resolveModules(['a'], 'kernel/a.ko: kernel/b.ko\n')).toThrow(/a needs kernel\/b.ko, which modules.dep does not list/)
    expect(() => resolveModules(['a'], 'kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n')).toThrow(/cycle: a → b → a/)
    expect(() => resolveModules(['a'], 'kernel/a.ko kernel/b.ko\n')).toThrow(/modules.dep:1: not a "module: dependencies" line/)
  })

  it('reads compressed module names and the module list with comments', () => {
    expect(moduleName('kernel/drivers/net/virtio_net.ko.xz')).toBe('virtio_net')
    expect(moduleName('kernel/drivers/char/hw_random/virtio-rng.ko.zst')).toBe('virtio_rng')
    expect(parseModuleList('# c\nvirtio_pci\n\n virtio_net  # nic\n')).toEqual(['virtio_pci', 'virtio_net'])
  })

  it('the repo list names the PCI transport, the NIC and the disk', async () => {
    expect(parseModuleList(await readFile(join(GUEST_DIR, 'modules'), 'utf8'))).toEqual(['virtio_pci', 'virtio_net', 'virtio_blk'])
  })
})

describe('guest cache key', () => {
  const files = [
    {path: 'init', mode: 0o100755, data: '#!/bin/sh\necho hi\n'},
    {path: 'modules', mode: 0o100644, data: 'virtio_net\n'},
  ]
  const packages = {'linux-image-6.1.0-57-cloud-amd64': '6.1.192-3', 'busybox-static': '1:1.35.0-4+deb12u1+b1'}
  const key = guestCacheKey({files, packages})

  it('is a sha256 that does not depend on the order of files or packages', () => {
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    expect(guestCacheKey({files: [...files].reverse(), packages: Object.fromEntries(Object.entries(packages).reverse())})).toBe(key)
  })

  it('changes with a file, its mode, its name, a package version or a new package', () => {
    const others = [
      {files: [{...files[0], data: '#!/bin/sh\necho hi!\n'}, files[1]], packages},
      {files: [{...files[0], mode: 0o100644}, files[1]], packages},
      {files: [{...files[0], path: 'init2'}, files[1]], packages},
      {files, packages: {...packages, 'busybox-static': '1:1.35.0-4+deb12u2'}},
      {files, packages: {...packages, 'host:syslinux': '3:6.04'}},
      // Bytes moved between a name and its content do not collide.
      {files: [{path: 'initx', mode: 0o100755, data: '!/bin/sh\necho hi\n'}, files[1]], packages},
    ]
    const keys = others.map((i) => guestCacheKey(i))
    for (const k of keys) expect(k).not.toBe(key)
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('covers every file of images/guest/, the build script included', async () => {
    const real = await readGuestFiles(GUEST_DIR)
    expect(real.map((f) => f.path).sort()).toEqual(['build-disk.sh', 'init', 'modules', 'syslinux.cfg', 'udhcpc.script'])
    expect(real.find((f) => f.path === 'init')!.mode & 0o111).not.toBe(0)
  })
})

describe('guest packages from apt', () => {
  it('takes the candidate of each package and the kernel the metapackage pins', () => {
    const shown = parseAptShow(
      [
        'Package: linux-image-cloud-amd64',
        'Source: linux-signed-amd64 (6.1.192+3)',
        'Version: 6.1.192-3',
        'Depends: linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3)',
        'Description: Linux for x86-64 cloud (meta-package)',
        '',
        'Package: busybox-static',
        'Version: 1:1.35.0-4+deb12u1+b1',
        'Replaces: busybox',
        '',
      ].join('\n'),
    )
    expect(shown.get('busybox-static')).toEqual({package: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1', depends: ''})
    expect(parseKernelDepends(shown.get('linux-image-cloud-amd64')!.depends)).toEqual({name: 'linux-image-6.1.0-57-cloud-amd64', version: '6.1.192-3'})
    expect(parseKernelDepends('initramfs-tools | linux-initramfs-tool, linux-image-6.1.0-9-cloud-amd64 (= 6.1.27-1)')).toEqual({name: 'linux-image-6.1.0-9-cloud-amd64', version: '6.1.27-1'})
    expect(parseKernelDepends('linux-image-cloud-amd64')).toBeNull()
  })

  it('a machine without the build tools gets exit 5 and the apt-get line, no stack', async () => {
    const r = await execa(process.execPath, [join(REPO_ROOT, 'bin', 'run.js'), 'image', 'guest', '--json'], {reject: false, env: {PATH: '/nonexistent'}, extendEnv: false})
    expect(r.exitCode, r.stderr).toBe(5)
    const doc = JSON.parse(r.stdout)
    expect(doc).toMatchObject({ok: false, command: 'image guest', exitCode: 5, hosts: [], error: {code: 'BUILD_FAILED', exitCode: 5}})
    expect(doc.error.message).toMatch(/needs .*apt-get.*cpio.*qemu-img/)
    expect(doc.error.hint).toMatch(/^apt-get install --no-install-recommends .*\bqemu-utils\b/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(GUEST_TOOL_PACKAGES).toEqual(expect.arrayContaining(['cpio', 'dosfstools', 'fdisk', 'kmod', 'mtools', 'qemu-utils', 'syslinux', 'syslinux-common']))
  })
})
