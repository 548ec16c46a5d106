import {randomBytes} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {DockerClient} from '../../src/docker/types.js'

export interface ImageFixture {
  docker: DockerClient
  /** An image the engine has, to build FROM. */
  base: string
  close?(): Promise<void>
}

/**
 * What the image builder relies on from an engine: builds with tags and labels and a log, lookups
 * by label, tags and removals. Run against FakeDocker (unit) and the real local engine
 * (integration).
 */
export function imageContract(name: string, make: () => Promise<ImageFixture>): void {
  describe(`Image contract: ${name}`, () => {
    let f: ImageFixture
    let dir: string
    const run = randomBytes(3).toString('hex')
    const ref = (s: string) => `osctl-contract/${s}:${run}`

    const build = async (tag: string, steps: string[], log: string[] = []) => {
      await writeFile(join(dir, 'Dockerfile'), [`FROM ${f.base}`, ...steps].join('\n') + '\n')
      return f.docker.buildImage({contextDir: dir, tags: [ref(tag)], labels: {'io.osctl.contract': run, 'io.osctl.kind': tag}, onLog: (l) => log.push(l)})
    }

    beforeAll(async () => {
      f = await make()
      dir = await mkdtemp(join(tmpdir(), 'osctl-image-contract-'))
    }, 300_000)
    afterAll(async () => {
      for (const i of await f.docker.listImages({'io.osctl.contract': run})) for (const t of i.tags) await f.docker.removeImage(t)
      await rm(dir, {recursive: true, force: true})
      await f.close?.()
    })

    it('builds with its tag and labels, logging a Step line per instruction and per label (each label is a step)', async () => {
      const log: string[] = []
      const built = await build('a', ['RUN echo built', 'LABEL io.osctl.extra=1'], log)
      expect(built.labels).toMatchObject({'io.osctl.contract': run, 'io.osctl.kind': 'a'})
      expect((await f.docker.inspectImage(ref('a')))?.id).toBe(built.id)
      expect(log.filter((l) => /^Step \d+\/5 : /.test(l))).toHaveLength(5)
      expect(await f.docker.inspectImage(ref('never-built'))).toBeUndefined()
    })

    it('finds images by label (an empty value only asks for the label)', async () => {
      const b = await build('b', ['RUN echo b'])
      expect((await f.docker.listImages({'io.osctl.contract': run, 'io.osctl.kind': 'b'})).map((i) => i.id)).toEqual([b.id])
      expect((await f.docker.listImages({'io.osctl.contract': run, 'io.osctl.kind': ''})).length).toBeGreaterThanOrEqual(2)
    })

    it('a tag names the same image; removing one tag leaves the image under the other', async () => {
      const c = await build('c', ['RUN echo c'])
      await f.docker.tagImage(ref('c'), ref('c2'))
      expect((await f.docker.inspectImage(ref('c2')))?.id).toBe(c.id)
      await f.docker.removeImage(ref('c'))
      expect(await f.docker.inspectImage(ref('c'))).toBeUndefined()
      expect((await f.docker.inspectImage(ref('c2')))?.id).toBe(c.id)
    })

    it('an image built FROM another carries its labels; their history, newest first, tells them apart', async () => {
      const parent = await build('e', ['RUN echo e'])
      await writeFile(join(dir, 'Dockerfile'), `FROM ${ref('e')}\nRUN echo child\n`)
      const child = await f.docker.buildImage({contextDir: dir, tags: [ref('e-child')]})
      expect(child.id).not.toBe(parent.id)
      expect(child.labels).toMatchObject({'io.osctl.contract': run, 'io.osctl.kind': 'e'})
      expect((await f.docker.listImages({'io.osctl.contract': run, 'io.osctl.kind': 'e'})).map((i) => i.id).sort()).toEqual([parent.id, child.id].sort())
      const ph = (await f.docker.imageHistory(ref('e')))!
      const ch = (await f.docker.imageHistory(child.id))!
      // The labels given to the builder are its last steps (in some order), after the Dockerfile's.
      expect(new Set(ph.slice(0, 2))).toEqual(new Set([`/bin/sh -c #(nop)  LABEL io.osctl.contract=${run}`, '/bin/sh -c #(nop)  LABEL io.osctl.kind=e']))
      expect(ph[2]).toBe('/bin/sh -c echo e')
      expect(ch[0]).toBe('/bin/sh -c echo child')
      expect(ch.slice(1, ph.length + 1)).toEqual(ph)
      expect(await f.docker.imageHistory(ref('never-built'))).toBeUndefined()
      await f.docker.removeImage(ref('e-child'))
    })

    it('a failing RUN fails the build with the engine words, after logging its step', async () => {
      const log: string[] = []
      const err = await build('d', ['RUN echo osctl-contract-fail && false'], log).then(() => undefined, (e: unknown) => e as Error)
      expect(err?.message).toMatch(/returned a non-zero code: 1/)
      expect(log.some((l) => /^Step 2\/\d+ : RUN echo osctl-contract-fail/.test(l))).toBe(true)
      expect(await f.docker.inspectImage(ref('d'))).toBeUndefined()
    })
  })
}
