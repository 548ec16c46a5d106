import {randomBytes} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ContainerClient} from '../../src/docker/types.js'
import {OsctlError} from '../../src/errors.js'

/** What a test needs from an engine beyond the ContainerClient interface: images to run, and ways to make a container that runs or exits. */
export interface EngineFixture {
  engine: ContainerClient
  /** An image the engine has, whose containers run `sh`. */
  image: string
  /** Creates (not starts) a container that keeps running once started. */
  createRunning(name: string, labels: Record<string, string>): Promise<void>
  /** Creates (not starts) a container that prints `text` and exits with `code` once started. */
  createOneShot(name: string, code: number, text: string, labels: Record<string, string>): Promise<void>
  /** An image reference whose registry answers but does not have it. */
  missingRef: string
  close?(): Promise<void>
}

/**
 * What deploy, rollback and the swap rely on from a Docker engine, run against FakeEngine (unit)
 * and the real local engine (integration), so the fake cannot drift from dockerode + dockerd.
 */
export function engineContract(name: string, make: () => Promise<EngineFixture>): void {
  describe(`Engine contract: ${name}`, () => {
    let f: EngineFixture
    const run = randomBytes(3).toString('hex')
    const n = (s: string) => `osctl-contract-${run}-${s}`
    const label = {'io.osctl.contract': run}

    beforeAll(async () => {
      f = await make()
    }, 300_000)
    afterAll(async () => {
      for (const c of await f.engine.listContainers(label)) await f.engine.removeContainer(c.name)
      await f.close?.()
    })

    it('create then inspect: name, image, the image id, labels, state created', async () => {
      await f.createRunning(n('a'), label)
      const c = await f.engine.inspectContainer(n('a'))
      const image = await f.engine.inspectImage(f.image)
      expect(c).toMatchObject({name: n('a'), imageId: image!.id, state: 'created', labels: expect.objectContaining(label)})
      expect(c?.pid).toBeUndefined()
      expect(await f.engine.inspectContainer(n('never'))).toBeUndefined()
      await expect(f.createRunning(n('a'), label)).rejects.toThrow(/Conflict|in use/i)
    })

    it('start runs it (twice is fine), stop leaves it exited, remove makes it gone (twice is fine)', async () => {
      await f.createRunning(n('b'), label)
      await f.engine.startContainer(n('b'))
      await f.engine.startContainer(n('b'))
      const running = await f.engine.inspectContainer(n('b'))
      expect(running?.state).toBe('running')
      // Its main process while it runs (the connected health check reads the container's /proc through it), none once stopped.
      expect(running?.pid).toBeGreaterThan(1)
      await f.engine.stopContainer(n('b'), 2)
      const stopped = await f.engine.inspectContainer(n('b'))
      expect(stopped?.state).toBe('exited')
      expect(stopped?.pid).toBeUndefined()
      await f.engine.removeContainer(n('b'))
      await f.engine.removeContainer(n('b'))
      expect(await f.engine.inspectContainer(n('b'))).toBeUndefined()
    })

    it("Docker's own check: a running container with one reports its health (starting, then healthy); `NONE` (osctl.yml enable_container_healthchecks: false) reports none", async () => {
      const check = {test: ['CMD-SHELL', 'true'], intervalSeconds: 1, timeoutSeconds: 5, retries: 3, startPeriodSeconds: 2}
      await f.engine.createContainer({name: n('hc'), image: f.image, labels: label, command: ['sleep', '3600'], healthcheck: check})
      await f.engine.createContainer({name: n('nohc'), image: f.image, labels: label, command: ['sleep', '3600'], healthcheck: {test: ['NONE'], intervalSeconds: 0, timeoutSeconds: 0, retries: 0}})
      try {
        await f.engine.startContainer(n('hc'))
        await f.engine.startContainer(n('nohc'))
        expect(['starting', 'healthy']).toContain((await f.engine.inspectContainer(n('hc')))?.health)
        expect((await f.engine.inspectContainer(n('nohc')))?.health).toBeUndefined()
        // A deploy reads the host's containers by listing them: the same word there.
        const listed = new Map((await f.engine.listContainers(label)).map((c) => [c.name, c.health]))
        expect(['starting', 'healthy']).toContain(listed.get(n('hc')))
        expect(listed.get(n('nohc'))).toBeUndefined()
      } finally {
        await f.engine.removeContainer(n('hc'))
        await f.engine.removeContainer(n('nohc'))
      }
    })

    it('list by labels: a value must match, an empty value only asks for the label', async () => {
      await f.createRunning(n('c1'), {...label, 'io.osctl.contract-kind': 'x'})
      await f.createRunning(n('c2'), {...label, 'io.osctl.contract-kind': 'y'})
      expect((await f.engine.listContainers({...label, 'io.osctl.contract-kind': 'x'})).map((c) => c.name)).toEqual([n('c1')])
      expect((await f.engine.listContainers({...label, 'io.osctl.contract-kind': ''})).map((c) => c.name).sort()).toEqual([n('c1'), n('c2')])
    })

    it('rename keeps the container (same id) under the new name; a taken name is refused', async () => {
      await f.createRunning(n('d'), label)
      await f.createRunning(n('e'), label)
      const before = await f.engine.inspectContainer(n('d'))
      await f.engine.renameContainer(n('d'), n('d.next'))
      expect(await f.engine.inspectContainer(n('d'))).toBeUndefined()
      expect((await f.engine.inspectContainer(n('d.next')))?.id).toBe(before!.id)
      await expect(f.engine.renameContainer(n('d.next'), n('e'))).rejects.toThrow(/Conflict|in use/i)
    })

    it('a one-shot container: wait returns its exit code, logs hold what it printed, state exited with the code', async () => {
      await f.createOneShot(n('f'), 3, `osctl-said-${run}`, label)
      await f.engine.startContainer(n('f'))
      expect(await f.engine.waitContainer(n('f'), 60_000)).toBe(3)
      expect(await f.engine.containerLogs(n('f'))).toContain(`osctl-said-${run}`)
      expect(await f.engine.inspectContainer(n('f'))).toMatchObject({state: 'exited', exitCode: 3})
    })

    it('a container run again: its last end is known, and logs since then hold the new run\'s output only', async () => {
      // The overlap warm-up reuses the kept previous container: its earlier run's ready line must not count (container-swap.ts warmUp).
      await f.createOneShot(n('r'), 0, `osctl-again-${run}`, label)
      expect((await f.engine.inspectContainer(n('r')))?.finishedAt).toBeUndefined()
      await f.engine.startContainer(n('r'))
      expect(await f.engine.waitContainer(n('r'), 60_000)).toBe(0)
      const first = (await f.engine.inspectContainer(n('r')))!.finishedAt!
      expect(Date.parse(first)).toBeGreaterThan(0)
      await new Promise((resolve) => setTimeout(resolve, 20))
      const between = new Date().toISOString()
      expect(await f.engine.containerLogs(n('r'), undefined, between)).toBe('')
      await new Promise((resolve) => setTimeout(resolve, 20))
      await f.engine.startContainer(n('r'))
      expect(await f.engine.waitContainer(n('r'), 60_000)).toBe(0)
      // Docker stamps a line when it reads it, which for a one-shot can be a little after its
      // exit (finishedAt): exactly one run's output is asked for a moment later.
      expect(await f.engine.containerLogs(n('r'), undefined, first)).toContain(`osctl-again-${run}`)
      const again = await f.engine.containerLogs(n('r'), undefined, between)
      expect(again.split(`osctl-again-${run}`).length - 1).toBe(1)
      const second = (await f.engine.inspectContainer(n('r')))!.startedAt!
      expect(Date.parse(second)).toBeGreaterThan(Date.parse(between))
      expect(Date.parse((await f.engine.inspectContainer(n('r')))!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(first))
    })

    it('exec in a running container returns its exit code without throwing; in a stopped one it rejects', async () => {
      await f.createRunning(n('g'), label)
      await f.engine.startContainer(n('g'))
      expect((await f.engine.exec(n('g'), ['sh', '-c', 'exit 0'])).exitCode).toBe(0)
      expect((await f.engine.exec(n('g'), ['sh', '-c', 'exit 4'])).exitCode).toBe(4)
      expect(await f.engine.exec(n('g'), ['cat'], {input: `secret ${run}\n`, timeoutMs: 30_000})).toMatchObject({exitCode: 0, stdout: `secret ${run}\n`})
      await f.engine.stopContainer(n('g'), 2)
      await expect(f.engine.exec(n('g'), ['true'])).rejects.toThrow()
    })

    it('an image is found by reference and by id; removing one a container uses is refused (409) unless forced', async () => {
      const image = (await f.engine.inspectImage(f.image))!
      expect((await f.engine.inspectImage(image.id))?.id).toBe(image.id)
      await f.createRunning(n('h'), label)
      const refused = await f.engine.removeImage(image.id).then(() => undefined, (e: unknown) => e as {statusCode?: number})
      expect(refused?.statusCode).toBe(409)
      expect((await f.engine.inspectImage(f.image))?.id).toBe(image.id)
    })

    it('pulling a reference the registry does not have is IMAGE_UNKNOWN with a hint to build and push', async () => {
      const err = await f.engine.pullImage(f.missingRef).then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(OsctlError)
      expect(err).toMatchObject({code: 'IMAGE_UNKNOWN', hint: expect.stringContaining('--push')})
    })
  })
}
