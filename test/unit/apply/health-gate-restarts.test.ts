import {describe, expect, it} from 'vitest'

import {waitContainerHealthy} from '../../../src/apply/container-health.js'
import type {ContainerClient, ContainerInfo} from '../../../src/docker/docker-client.js'
import type {Host} from '../../../src/hosts/host.js'

/**
 * A container that goes through `lives` (each: how many probes it fails before it exits, or null
 * for "healthy from now on"), as systemd's Restart=always brings it back after each exit.
 */
function crashing(lives: Array<number | null>) {
  let life = 0
  let probes = 0
  let exited = false
  const docker = {
    exec: async () => {
      if (exited) {
        // systemd started it again (a new StartedAt).
        exited = false
        life++
        probes = 0
      }
      const fails = lives[life]
      if (fails === null) return {exitCode: 0, stdout: '', stderr: ''}
      if (++probes >= fails) exited = true
      return {exitCode: 1, stdout: '', stderr: 'no rabbitmq connection'}
    },
    inspectContainer: async (): Promise<ContainerInfo> =>
      ({id: 'x', name: 'nova-scheduler', image: 'i', imageId: 'sha', labels: {}, state: exited ? 'exited' : 'running', exitCode: exited ? 1 : 0, startedAt: `start-${life}`}) as ContainerInfo,
  } as unknown as ContainerClient
  return docker
}
const host = {} as Host
const check = {kind: 'exec' as const, target: 'healthcheck_rabbitmq nova-scheduler', timeoutSeconds: 30}

describe('health gate: exits of a container systemd restarts', () => {
  it('a container deploy just created fails at its first exit', async () => {
    const r = await waitContainerHealthy(host, crashing([2, null]), 'nova-scheduler', check, {intervalMs: 1})
    expect(r).toEqual({healthy: false, detail: 'nova-scheduler exited with 1'})
  })

  it('the revision that already ran gets through one exit, and says so', async () => {
    const r = await waitContainerHealthy(host, crashing([2, null]), 'nova-scheduler', check, {intervalMs: 1, restartsAllowed: 2})
    expect(r).toEqual({healthy: true, detail: "`healthcheck_rabbitmq nova-scheduler` succeeded (after one exit and systemd's restart)"})
  })

  it('but one that keeps exiting fails once its restarts are spent, counting each start once', async () => {
    const r = await waitContainerHealthy(host, crashing([3, 3, 3, null]), 'nova-scheduler', check, {intervalMs: 1, restartsAllowed: 2})
    expect(r).toEqual({healthy: false, detail: 'nova-scheduler exited with 1 (3 exits)'})
  })
})
