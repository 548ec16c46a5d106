import {randomBytes} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {nextName, prevName, swapIn} from '../../src/apply/container-swap.js'
import {renderServiceUnit, serviceUnitPath} from '../../src/apply/service-unit.js'
import type {ContainerClient} from '../../src/docker/types.js'
import type {Host} from '../../src/hosts/host.js'

export interface SwapFixture {
  host: Host
  engine: ContainerClient
  /** Creates (not starts) a container that keeps running once started, from an image the host has. */
  createRunning(name: string, labels: Record<string, string>): Promise<void>
  close?(): Promise<void>
}

/**
 * The host-side swap (container-swap.ts SWAP_SCRIPT under systemd-run), run against the fake lab
 * host (the same script in /bin/sh, with docker/systemctl acted out on FakeEngine) and a real lab
 * host (systemd + Docker), so the fake cannot drift from what the script does on a host.
 */
export function swapContract(name: string, make: () => Promise<SwapFixture>): void {
  describe(`Swap contract: ${name}`, () => {
    let f: SwapFixture
    const run = randomBytes(3).toString('hex')
    const label = {'io.osctl.contract': run}
    // Two unit texts to swap between (a unit names no revision: another ordering makes it differ).
    const unit = (c: string, variant: number) => renderServiceUnit({service: 'contract', container: c, after: variant === 1 ? [] : [`dep-${variant}`]})

    beforeAll(async () => {
      f = await make()
    }, 300_000)
    afterAll(async () => {
      for (const c of [`swapc-${run}-a`, `swapc-${run}-b`]) {
        await f.host.exec(['systemctl', 'disable', '--now', `osctl-svc-${c}.service`]).catch(() => undefined)
        await f.host.remove(serviceUnitPath(c)).catch(() => undefined)
      }
      for (const c of await f.engine.listContainers(label)) await f.engine.removeContainer(c.name)
      await f.close?.()
    })

    it('a first swap starts the next container under the unit; nothing is kept', async () => {
      const c = `swapc-${run}-a`
      await f.createRunning(nextName(c), label)
      const id = (await f.engine.inspectContainer(nextName(c)))!.id
      await swapIn(f.host, c, unit(c, 1))
      expect(await f.engine.inspectContainer(c)).toMatchObject({id, state: 'running'})
      expect(await f.engine.inspectContainer(nextName(c))).toBeUndefined()
      expect(await f.engine.inspectContainer(prevName(c))).toBeUndefined()
      expect((await f.host.readFile(serviceUnitPath(c))).toString()).toBe(unit(c, 1))
    })

    it('a swap over a running container keeps the old one, stopped, as .prev; a stale .prev goes first', async () => {
      const c = `swapc-${run}-b`
      await f.createRunning(nextName(c), label)
      await swapIn(f.host, c, unit(c, 1))
      const first = (await f.engine.inspectContainer(c))!.id
      await f.createRunning(prevName(c), label)
      const stale = (await f.engine.inspectContainer(prevName(c)))!.id
      await f.createRunning(nextName(c), label)
      const second = (await f.engine.inspectContainer(nextName(c)))!.id
      await swapIn(f.host, c, unit(c, 2))
      expect(await f.engine.inspectContainer(c)).toMatchObject({id: second, state: 'running'})
      const prev = await f.engine.inspectContainer(prevName(c))
      expect(prev?.id).toBe(first)
      expect(prev?.id).not.toBe(stale)
      expect(prev?.state).toBe('exited')
      expect((await f.host.readFile(serviceUnitPath(c))).toString()).toBe(unit(c, 2))
    })

    it('an overlap swap (the next one already serves) kills the running one instead of stopping it, and keeps it as .prev', async () => {
      const c = `swapc-${run}-b`
      const old = (await f.engine.inspectContainer(c))!.id
      await f.engine.removeContainer(prevName(c))
      await f.createRunning(nextName(c), label)
      const next = (await f.engine.inspectContainer(nextName(c)))!.id
      await f.engine.startContainer(nextName(c))
      await swapIn(f.host, c, unit(c, 3), {overlap: true})
      expect(await f.engine.inspectContainer(c)).toMatchObject({id: next, state: 'running'})
      expect(await f.engine.inspectContainer(prevName(c))).toMatchObject({id: old, state: 'exited'})
      expect((await f.host.exec(['systemctl', 'is-active', `osctl-svc-${c}.service`])).stdout.trim()).toBe('active')
    })

    it('a swap without a next container fails, says so, and leaves the running one running', async () => {
      const c = `swapc-${run}-b`
      const running = (await f.engine.inspectContainer(c))!.id
      const err = await swapIn(f.host, c, unit(c, 3)).then(() => undefined, (e: unknown) => e as Error)
      expect(err?.message).toMatch(/swapping in the new .* failed/)
      expect(await f.engine.inspectContainer(c)).toMatchObject({id: running, state: 'running'})
    })
  })
}
