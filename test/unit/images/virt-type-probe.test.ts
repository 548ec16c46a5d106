import {execa} from 'execa'
import {chmod, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {IMAGES_DIR} from '../../../src/paths.js'

/**
 * images/nova-libvirt/osctl-virt-type, run here with a stand-in qemu: what each kind of KVM makes
 * it decide, what it writes for nova-compute, and that a hanging qemu is bounded.
 */
const SCRIPT = join(IMAGES_DIR, 'nova-libvirt', 'osctl-virt-type')
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'osctl-virt-type-'))
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

/** A qemu that finds its serial file in its arguments and does `behaviour` (sh). */
async function fakeQemu(behaviour: string): Promise<string> {
  const path = join(dir, 'qemu')
  await writeFile(path, `#!/bin/sh\nfor a; do case $a in file:*) console=\${a#file:};; esac; done\necho "$*" > ${dir}/args\n${behaviour}\n`)
  await chmod(path, 0o755)
  return path
}

async function decide(mode: string, opts: {qemu?: string; device?: boolean; seconds?: number} = {}) {
  const device = join(dir, 'kvm')
  if (opts.device !== false) await writeFile(device, '')
  const out = join(dir, 'virt-type.conf')
  const started = Date.now()
  const r = await execa('sh', [SCRIPT, mode, out], {
    reject: false,
    env: {OSCTL_KVM_DEVICE: device, OSCTL_QEMU: opts.qemu ?? join(dir, 'none'), OSCTL_KVM_PROBE_DISK: join(dir, 'probe.img'), OSCTL_KVM_PROBE_SECONDS: String(opts.seconds ?? 3)},
  })
  return {...r, ms: Date.now() - started, conf: await readFile(out, 'utf8').catch(() => '')}
}

describe('osctl-virt-type: virt_type per host, from a real KVM boot', () => {
  it('kvm when qemu -accel kvm boots the probe to its osctl-kvm-ok line', async () => {
    const r = await decide('auto', {qemu: await fakeQemu('echo osctl-kvm-ok > "$console"; sleep 30')})
    expect(r.stdout).toMatch(/^osctl-virt-type: kvm \(the KVM probe booted SYSLINUX in [\d.]+ s\)$/)
    expect(r.conf).toBe(`# ${r.stdout}\n[libvirt]\nvirt_type = kvm\n`)
    expect(await readFile(join(dir, 'args'), 'utf8')).toMatch(/-accel kvm .*-drive file=.*probe\.img,if=floppy/)
    expect(r.ms).toBeLessThan(2500)
  })

  it('qemu, with cpu_mode none, when KVM stops with an internal error (nested KVM at SYSLINUX), without waiting out the limit', async () => {
    const r = await decide('auto', {qemu: await fakeQemu('echo "KVM internal error. Suberror: 1" >&2; sleep 30'), seconds: 8})
    expect(r.stdout).toBe('osctl-virt-type: qemu (the KVM probe stopped: KVM internal error. Suberror: 1)')
    expect(r.conf).toBe(`# ${r.stdout}\n[libvirt]\nvirt_type = qemu\ncpu_mode = none\n`)
    expect(r.ms).toBeLessThan(4000)
  })

  it('qemu when the probe prints nothing within the limit (a hanging qemu is killed)', async () => {
    const r = await decide('auto', {qemu: await fakeQemu('sleep 30'), seconds: 1})
    expect(r.stdout).toBe('osctl-virt-type: qemu (the KVM probe printed nothing within 1 s)')
    expect(r.ms).toBeLessThan(3000)
  })

  it('qemu when qemu exits (e.g. cannot use KVM), quoting its last line', async () => {
    const r = await decide('auto', {qemu: await fakeQemu('echo "qemu-system-x86_64: failed to initialize kvm: Permission denied" >&2; exit 1')})
    expect(r.stdout).toBe('osctl-virt-type: qemu (qemu -accel kvm exited: qemu-system-x86_64: failed to initialize kvm: Permission denied)')
  })

  it('qemu without the device, and without starting qemu', async () => {
    const r = await decide('auto', {qemu: await fakeQemu('echo osctl-kvm-ok > "$console"'), device: false})
    expect(r.stdout).toBe(`osctl-virt-type: qemu (no ${join(dir, 'kvm')} on this host)`)
    await expect(readFile(join(dir, 'args'), 'utf8')).rejects.toThrow()
  })

  it('nova_virt_type kvm or qemu is written as forced, without a probe; anything else is exit 2', async () => {
    const qemu = await fakeQemu('exit 1')
    const kvm = await decide('kvm', {qemu, device: false})
    expect(kvm.conf).toBe('# osctl-virt-type: kvm (nova_virt_type: kvm in osctl.yml)\n[libvirt]\nvirt_type = kvm\n')
    expect((await decide('qemu', {qemu})).stdout).toBe('osctl-virt-type: qemu (nova_virt_type: qemu in osctl.yml)')
    await expect(readFile(join(dir, 'args'), 'utf8')).rejects.toThrow()
    const bad = await decide('xen', {qemu})
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain('MODE must be auto, kvm or qemu, not xen')
  })
})
