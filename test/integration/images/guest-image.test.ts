import {execa} from 'execa'
import {createHash, randomUUID} from 'node:crypto'
import {chmod, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {GUEST_TOOL_PACKAGES} from '../../../src/images/guest/guest-packages.js'
import {runCli} from '../../helpers/cli.js'
import {bootGuest, guestAccel} from '../../helpers/qemu-guest.js'

/** Generous: TCG on a loaded 2-core machine; measured boot times are in bench/README.md. */
const BOOT_TIMEOUT = 300_000

// No lab: the guest is built on this machine and booted by qemu here (KVM when usable, else TCG).
describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('osctl image guest: a bootable test guest from Debian packages', () => {
  let dir: string
  let disk: string
  let image: Record<string, unknown>
  let accel: 'kvm' | 'tcg'

  beforeAll(async () => {
    const tools = 'for t in qemu-system-x86_64 qemu-img cpio sfdisk mkfs.fat mcopy syslinux depmod; do PATH=$PATH:/usr/sbin:/sbin command -v $t >/dev/null || exit 1; done; test -e /usr/lib/syslinux/mbr/mbr.bin'
    if ((await execa('sh', ['-c', tools], {reject: false})).exitCode !== 0) {
      const pkgs = ['qemu-system-x86', ...GUEST_TOOL_PACKAGES].join(' ')
      await execa('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends ${pkgs}`], {timeout: 900_000})
    }
    dir = await mkdtemp(join(tmpdir(), 'osctl-guest-'))
    disk = join(dir, 'osctl-guest.qcow2')
    const r = await runCli(['image', 'guest', '--out', disk, '--json'], {timeoutMs: 900_000})
    expect(r.exitCode, r.stderr + r.stdout).toBe(0)
    image = JSON.parse(r.stdout).image
    accel = await guestAccel(disk, join(dir, 'console-kvm-probe.log'))
    console.log(`guest boots with ${accel}`)
  })

  afterAll(async () => {
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('--out gets a qcow2 disk whose size and sha256 --json reports; a second run reuses the cache', async () => {
    expect(image).toMatchObject({path: disk, format: 'qcow2', kernel: expect.stringMatching(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/)})
    const bytes = await readFile(disk)
    expect(image.size).toBe(bytes.length)
    expect(image.digest).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`)
    const info = JSON.parse((await execa('qemu-img', ['info', '--output', 'json', disk])).stdout)
    expect(info.format).toBe('qcow2')
    expect(info['virtual-size']).toBe(64 * 1024 * 1024)
    expect(Object.keys(image.packages as object)).toEqual(expect.arrayContaining(['busybox-static', expect.stringMatching(/^linux-image-\d/)]))

    const again = await runCli(['image', 'guest', '--json'], {timeoutMs: 300_000})
    expect(again.exitCode, again.stderr).toBe(0)
    const cached = JSON.parse(again.stdout).image
    expect(cached).toMatchObject({cached: true, digest: image.digest, key: image.key, path: image.cachePath})
    expect((await stat(cached.path)).size).toBe(image.size)
  })

  it('boots from its disk to init, loads its modules, gets 10.0.2.15 by DHCP and says the metadata fetch failed (no metadata server)', async () => {
    const consoleFile = join(dir, 'console-no-metadata.log')
    const vm = await bootGuest(disk, consoleFile, accel, 'restrict=on')
    try {
      const text = await vm.waitFor(/osctl-guest: ready/, BOOT_TIMEOUT)
      expect(text).toMatch(/^osctl-guest: init started kernel=\S+-cloud-amd64/m)
      expect(text).not.toMatch(/module-failed|network-failed|dhcp-failed/)
      expect(text).toMatch(/^osctl-guest: ip=10\.0\.2\.15\/24 dev=eth0/m)
      expect(text).toMatch(/^osctl-guest: metadata-failed url=http:\/\/169\.254\.169\.254 tries=3/m)
      expect(text).not.toMatch(/instance-id=/)
    } finally {
      await vm.stop()
    }
  })

  it('prints the instance id a metadata service at 169.254.169.254 gives it', async () => {
    const uuid = randomUUID()
    // qemu runs this per connection to 169.254.169.254:80, the socket on stdin/stdout: a one-shot metadata server.
    const server = join(dir, 'metadata.sh')
    const body = JSON.stringify({uuid, name: 'osctl-guest-test', hostname: 'osctl-guest-test'})
    await writeFile(
      server,
      `#!/bin/sh\nwhile IFS= read -r l; do l=$(printf '%s' "$l" | tr -d '\\r'); [ -z "$l" ] && break; echo "$l" >> ${dir}/requests.log; done\n` +
        `printf 'HTTP/1.0 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: ${body.length}\\r\\n\\r\\n%s' '${body}'\n`,
    )
    await chmod(server, 0o755)
    const consoleFile = join(dir, 'console-metadata.log')
    // guestfwd only serves addresses inside the user network: make it 169.254.0.0/16.
    const vm = await bootGuest(disk, consoleFile, accel, `restrict=on,net=169.254.0.0/16,dhcpstart=169.254.0.15,guestfwd=tcp:169.254.169.254:80-cmd:${server}`)
    try {
      const text = await vm.waitFor(/osctl-guest: ready/, BOOT_TIMEOUT)
      expect(text).toMatch(/^osctl-guest: ip=169\.254\.0\.15\/16 dev=eth0/m)
      expect(text).toMatch(new RegExp(`^osctl-guest: instance-id=${uuid} source=openstack\\s*$`, 'm'))
      expect(text).not.toMatch(/metadata-failed/)
      expect(await readFile(join(dir, 'requests.log'), 'utf8')).toMatch(/^GET \/openstack\/latest\/meta_data\.json HTTP/m)
    } finally {
      await vm.stop()
    }
  })
})
