import {describe, expect, it} from 'vitest'

import {probeHealth} from '../../../src/apply/container-health.js'
import type {ContainerClient} from '../../../src/docker/docker-client.js'
import type {Host} from '../../../src/hosts/host.js'

/** An engine whose `docker exec` answers with `result`, recording what ran. */
function engine(result: {exitCode: number; stdout: string; stderr: string}) {
  const ran: string[][] = []
  const docker = {exec: async (_c: string, argv: string[]) => (ran.push(argv), result)} as unknown as ContainerClient
  return {docker, ran}
}
const host = {} as Host
const check = {kind: 'exec' as const, target: 'osctl-libvirt-health', timeoutSeconds: 60}

describe('exec health checks: what the check says is the detail `osctl service status` shows', () => {
  it('healthy with the last stdout line (nova-libvirt: its virt_type and why)', async () => {
    const {docker, ran} = engine({exitCode: 0, stdout: 'probing\nosctl-virt-type: qemu (the KVM probe stopped: KVM internal error. Suberror: 1)\n', stderr: ''})
    expect(await probeHealth(host, check, {docker, container: 'nova-libvirt'})).toEqual({
      healthy: true,
      detail: '`osctl-libvirt-health` succeeded: osctl-virt-type: qemu (the KVM probe stopped: KVM internal error. Suberror: 1)',
    })
    expect(ran).toEqual([['sh', '-c', 'osctl-libvirt-health']])
  })

  it('a silent check is just "succeeded"; a failing one gives its exit code and last line', async () => {
    expect((await probeHealth(host, check, {docker: engine({exitCode: 0, stdout: '', stderr: 'noise'}).docker, container: 'c'})).detail).toBe('`osctl-libvirt-health` succeeded')
    expect(await probeHealth(host, check, {docker: engine({exitCode: 1, stdout: '', stderr: 'libvirtd does not answer on /run/libvirt/libvirt-sock'}).docker, container: 'c'})).toEqual({
      healthy: false,
      detail: '`osctl-libvirt-health` exited with 1: libvirtd does not answer on /run/libvirt/libvirt-sock',
    })
  })
})
