import {execa, ResultPromise} from 'execa'
import {constants} from 'node:fs'
import {access, readFile} from 'node:fs/promises'

/**
 * kvm when /dev/kvm can be opened *and* boots this disk to init, else TCG (software emulation).
 * The device alone is not enough: under some nested hypervisors KVM stops at SYSLINUX's real-mode
 * code ("KVM internal error. Suberror: 1 … emulation failure") and qemu then hangs instead of
 * exiting, so the probe boots the disk once with KVM: init within 60 s, and that error ends it at once.
 */
export async function guestAccel(disk: string, consoleFile: string): Promise<'kvm' | 'tcg'> {
  const device = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  )
  if (!device) return 'tcg'
  const vm = await bootGuest(disk, consoleFile, 'kvm')
  try {
    await vm.waitFor(/osctl-guest: init started/, 60_000)
    return 'kvm'
  } catch {
    return 'tcg'
  } finally {
    await vm.stop()
  }
}

export interface GuestBoot {
  /** The serial console so far. */
  console(): Promise<string>
  /** Resolves with the console once it matches, rejects with it on timeout or qemu's exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>
  stop(): Promise<void>
}

/**
 * Boots a disk with qemu-system-x86_64: virtio disk and NIC, serial console to a file, no display,
 * user-mode networking (`netdev` gives its extra options, e.g. restrict=on, guestfwd=…). The disk
 * is opened with snapshot=on: a boot never changes the image.
 */
export async function bootGuest(disk: string, consoleFile: string, accel: 'kvm' | 'tcg', netdev = 'restrict=on'): Promise<GuestBoot> {
  const qemu: ResultPromise = execa(
    'qemu-system-x86_64',
    [
      ...['-accel', accel, ...(accel === 'kvm' ? ['-cpu', 'host'] : []), '-m', '256', '-smp', '1'],
      ...['-nographic', '-monitor', 'none', '-serial', `file:${consoleFile}`, '-no-reboot'],
      ...['-drive', `file=${disk},if=virtio,format=qcow2,snapshot=on`],
      ...['-netdev', `user,id=n0${netdev ? `,${netdev}` : ''}`, '-device', 'virtio-net-pci,netdev=n0'],
    ],
    {reject: false, stdin: 'ignore', all: true},
  )
  let exited: string | null = null
  // qemu reports a KVM that cannot run the guest on stderr and then hangs: that ends a wait at once.
  let output = ''
  qemu.all?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  void qemu.then((r) => {
    exited = `qemu exited ${r.exitCode}: ${String(r.all ?? '').slice(-2000)}`
  })
  const read = () => readFile(consoleFile, 'utf8').catch(() => '')
  return {
    console: read,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const text = await read()
        if (re.test(text)) return text
        if (exited) throw new Error(`${exited}\nconsole:\n${text}`)
        if (/KVM internal error/.test(output)) throw new Error(`qemu: ${output.slice(0, 500)}\nconsole:\n${text}`)
        if (Date.now() > deadline) throw new Error(`no ${re} on the console within ${timeoutMs / 1000} s; console:\n${text}`)
        await new Promise((r) => setTimeout(r, 250))
      }
    },
    async stop() {
      qemu.kill('SIGKILL')
      await qemu
    },
  }
}
