import {afterAll, describe, expect, it} from 'vitest'

import {ExitCode, OsctlError} from '../../../src/errors.js'
import {loadImageGraph} from '../../../src/images/image-graph.js'
import {VARS, cleanupDirs, copyShippedImages, makeImagesDir, ref} from './helpers.js'

async function rejection(p: Promise<unknown>): Promise<OsctlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OsctlError)
  return err as OsctlError
}

describe('loadImageGraph', () => {
  afterAll(cleanupDirs)

  it('orders the shipped images parents first, with parents taken from FROM lines', async () => {
    const g = await loadImageGraph(await copyShippedImages(), VARS)
    expect(g.order[0]).toBe('base')
    expect(g.order.slice(1).sort()).toEqual(['etcd', 'registry'])
    expect(g.images.get('base')).toMatchObject({parent: null, from: VARS.rootfs_image})
    expect(g.images.get('etcd')).toMatchObject({parent: 'base', parents: ['base'], ref: ref('etcd')})
    expect(g.images.get('etcd')!.dockerfile).toContain(`FROM ${ref('base')}`)
  })

  it('with names, loads only those and their ancestors', async () => {
    const g = await loadImageGraph(await copyShippedImages(), VARS, ['etcd'])
    expect(g.order).toEqual(['base', 'etcd'])
  })

  it('an unknown name is a usage error listing the known images', async () => {
    const err = await rejection(loadImageGraph(await copyShippedImages(), VARS, ['etdc']))
    expect(err.code).toBe('IMAGE_UNKNOWN')
    expect(err.exitCode).toBe(ExitCode.USAGE)
    expect(err.message).toContain('etdc')
    expect(err.message).toContain('known images: base, etcd, registry')
  })

  it('a FROM naming something that is not an osctl image is an external parent', async () => {
    const dir = await makeImagesDir({a: 'FROM docker.io/library/debian:12\n', b: "FROM {{ image('a') }}\n"})
    const g = await loadImageGraph(dir, VARS)
    expect(g.images.get('a')).toMatchObject({parents: [], parent: null, from: 'docker.io/library/debian:12'})
    expect(g.order).toEqual(['a', 'b'])
  })

  it('multi-stage: every osctl image in any stage is a parent; the final stage decides `parent`', async () => {
    const dir = await makeImagesDir({
      base: 'FROM scratch\n',
      tools: "FROM {{ image('base') }}\n",
      app: "FROM --platform=linux/amd64 {{ image('tools') }} AS build\nRUN make\nFROM {{ image('base') }}\nCOPY --from=build /x /x\n",
    })
    const g = await loadImageGraph(dir, VARS, ['app'])
    expect(g.images.get('app')).toMatchObject({parents: ['tools', 'base'], parent: 'base'})
    expect(g.order).toEqual(['base', 'tools', 'app'])
  })

  it('a cycle is an error naming it', async () => {
    const dir = await makeImagesDir({a: "FROM {{ image('c') }}\n", b: "FROM {{ image('a') }}\n", c: "FROM {{ image('b') }}\n"})
    const err = await rejection(loadImageGraph(dir, VARS))
    expect(err.code).toBe('CONFIG_INVALID')
    expect(err.message).toBe('image dependency cycle: a → c → b → a')
  })

  it('an image FROM itself is a cycle too', async () => {
    const dir = await makeImagesDir({a: "FROM {{ image('a') }}\n"})
    expect((await rejection(loadImageGraph(dir, VARS))).message).toBe('image dependency cycle: a → a')
  })

  it('an undefined variable names images/<name>/Dockerfile.njk:line and the expression', async () => {
    const dir = await makeImagesDir({base: 'FROM {{ rootfs_image }}\n# ok\nRUN echo {{ base_distr }}\n'})
    const err = await rejection(loadImageGraph(dir, VARS))
    expect(err.code).toBe('CONFIG_INVALID')
    expect(err.location).toBe(`${dir}/base/Dockerfile.njk:3`)
    expect(err.location).toMatch(/images\/base\/Dockerfile\.njk:3$/)
    expect(err.message).toContain('{{ base_distr }}')
    expect(err.hint).toContain('base_distro')
  })

  it("image('nosuch') names the file, line and the known images", async () => {
    const dir = await makeImagesDir({base: 'FROM scratch\n', x: "# x\nFROM {{ image('bsae') }}\n"})
    const err = await rejection(loadImageGraph(dir, VARS))
    expect(err.location).toBe(`${dir}/x/Dockerfile.njk:2`)
    expect(err.message).toContain("image('bsae')")
    expect(err.hint).toContain('base, x')
  })

  it('a template syntax error is reported with file:line', async () => {
    const dir = await makeImagesDir({base: 'FROM scratch\n{% if %}\n'})
    const err = await rejection(loadImageGraph(dir, VARS))
    expect(err.location).toBe(`${dir}/base/Dockerfile.njk:2`)
  })

  it('a broken template in an unrelated image does not block building another', async () => {
    const dir = await makeImagesDir({base: 'FROM scratch\n', broken: 'FROM {{ nope }}\n'})
    expect((await loadImageGraph(dir, VARS, ['base'])).order).toEqual(['base'])
  })

  it('a Dockerfile without FROM is an error naming the file', async () => {
    const dir = await makeImagesDir({a: 'RUN true\n'})
    expect((await rejection(loadImageGraph(dir, VARS))).location).toBe(`${dir}/a/Dockerfile.njk`)
  })
})
