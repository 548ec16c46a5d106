import {appendFile, chmod} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeEach, describe, expect, it} from 'vitest'

import {ExitCode, OsctlError} from '../../../src/errors.js'
import {BuildImagesOptions, ImageResult, buildImages} from '../../../src/images/build-images.js'
import {imageStates} from '../../../src/images/image-states.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {FakeDocker} from '../../fakes/fake-docker.js'
import {VARS, cleanupDirs, copyShippedImages, makeImagesDir, ref} from './helpers.js'

let docker: FakeDocker
let reporter: RecordingReporter
let rootfsCalls: number

beforeEach(() => {
  docker = new FakeDocker()
  reporter = new RecordingReporter()
  rootfsCalls = 0
})
afterAll(cleanupDirs)

function build(imagesDir: string, extra: Partial<BuildImagesOptions> = {}) {
  return buildImages({
    docker,
    imagesDir,
    vars: VARS,
    reporter,
    ensureRootfs: async () => {
      rootfsCalls++
    },
    ...extra,
  })
}

async function failure(p: Promise<unknown>): Promise<OsctlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(OsctlError)
  return err as OsctlError
}

const statuses = (images: ImageResult[]) => Object.fromEntries(images.map((i) => [i.name, i.status]))

/** base plus n leaf children: enough independent work to see the parallelism bound. */
function fanOut(n: number) {
  const files: Record<string, string> = {base: 'FROM {{ rootfs_image }}\n'}
  for (let i = 1; i <= n; i++) files[`leaf${i}`] = `FROM {{ image('base') }}\nRUN echo ${i}\n`
  return makeImagesDir(files)
}

describe('buildImages', () => {
  it('builds base before etcd and registry, labelled, on the host network, rootfs ensured once', async () => {
    const {images} = await build(await copyShippedImages())
    expect(docker.builds[0].ref).toBe(ref('base'))
    expect(docker.builds.slice(1).map((b) => b.ref).sort()).toEqual([ref('etcd'), ref('registry')])
    expect(statuses(images)).toEqual({base: 'built', etcd: 'built', registry: 'built'})
    const etcd = images.find((i) => i.name === 'etcd')!
    expect(etcd).toMatchObject({ref: ref('etcd'), parent: 'base', size: 1_000_000})
    expect(etcd.contextHash).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(docker.buildsOf('/etcd:')[0].labels).toEqual({'io.osctl.managed': 'true', 'io.osctl.image': 'etcd', 'io.osctl.context-hash': etcd.contextHash})
    expect(docker.builds.every((b) => b.networkMode === 'host')).toBe(true)
    expect(docker.buildsOf('/base:')[0].dockerfile).toContain(`FROM ${VARS.rootfs_image}`)
    expect(rootfsCalls).toBe(1)
    expect(reporter.of('image.build.done').map((e) => e.data.image).sort()).toEqual(['base', 'etcd', 'registry'])
  })

  it('with names builds those and their ancestors, never unrelated images', async () => {
    const {images} = await build(await copyShippedImages(), {names: ['registry']})
    expect(images.map((i) => i.name)).toEqual(['base', 'registry'])
    expect(docker.buildsOf('/etcd:')).toHaveLength(0)
  })

  for (const parallel of [1, 2, 4]) {
    it(`runs at most --parallel ${parallel} builds at once, and uses them all`, async () => {
      docker.buildDelayMs = 250
      await build(await fanOut(6), {parallel})
      expect(docker.maxConcurrency).toBe(parallel)
      expect(docker.builds).toHaveLength(7)
    })
  }

  it('a second run with nothing changed builds nothing and does not need the rootfs', async () => {
    const dir = await copyShippedImages()
    const first = await build(dir)
    docker.builds.length = 0
    rootfsCalls = 0
    const second = await build(dir)
    expect(docker.builds).toHaveLength(0)
    expect(rootfsCalls).toBe(0)
    expect(statuses(second.images)).toEqual({base: 'unchanged', etcd: 'unchanged', registry: 'unchanged'})
    expect(second.images.map((i) => i.contextHash)).toEqual(first.images.map((i) => i.contextHash))
  })

  it('another registry or tag with the same content is tagged, not rebuilt; a content change still builds', async () => {
    const dir = await copyShippedImages()
    const first = await build(dir)
    docker.builds.length = 0
    rootfsCalls = 0
    const other = {...VARS, registry: '10.9.9.9:4000', tag: 'other'}
    const again = await build(dir, {vars: other})
    expect(docker.builds).toHaveLength(0)
    expect(rootfsCalls).toBe(0)
    expect(statuses(again.images)).toEqual({base: 'reused', etcd: 'reused', registry: 'reused'})
    expect(again.images.map((i) => i.contextHash)).toEqual(first.images.map((i) => i.contextHash))
    for (const name of ['base', 'etcd', 'registry']) {
      expect((await docker.inspectImage(`10.9.9.9:4000/osctl/${name}:other`))!.id).toBe((await docker.inspectImage(ref(name)))!.id)
    }
    expect(reporter.of('image.build.reused').map((e) => [e.data.image, e.data.from]).sort()).toEqual(['base', 'etcd', 'registry'].map((n) => [n, ref(n)]))
    await appendFile(join(dir, 'etcd', 'Dockerfile.njk'), 'RUN true\n')
    const changed = await build(dir, {vars: {...other, tag: 'third'}})
    expect(statuses(changed.images)).toEqual({base: 'reused', etcd: 'built', registry: 'reused'})
  })

  it('a changed file rebuilds that image and its descendants only', async () => {
    const dir = await copyShippedImages()
    await build(dir)
    docker.builds.length = 0
    await appendFile(join(dir, 'registry', 'config.yml'), '# changed\n')
    const r1 = await build(dir)
    expect(statuses(r1.images)).toEqual({base: 'unchanged', etcd: 'unchanged', registry: 'built'})

    docker.builds.length = 0
    await appendFile(join(dir, 'base', 'apt.conf'), '// changed\n')
    const r2 = await build(dir)
    expect(statuses(r2.images)).toEqual({base: 'built', etcd: 'built', registry: 'built'})
  })

  it('a changed file mode counts as a change', async () => {
    const dir = await copyShippedImages()
    await build(dir)
    await chmod(join(dir, 'registry', 'config.yml'), 0o600)
    expect(statuses((await build(dir)).images)).toEqual({base: 'unchanged', etcd: 'unchanged', registry: 'built'})
  })

  it('an image tagged with another hash (stale) is rebuilt', async () => {
    docker.addImage(ref('base'), {'io.osctl.context-hash': 'sha256:old'})
    const {images} = await build(await copyShippedImages(), {names: ['base']})
    expect(images[0].status).toBe('built')
    expect(reporter.of('image.build.start')[0]?.data.reason).toBe('context-changed')
  })

  it('an image built FROM osctl\'s (a test\'s upgrade tag, an operator\'s hotfix) carries its labels but is never taken for it: not reused under another name, rebuilt under its own', async () => {
    const dir = await copyShippedImages()
    await build(dir)
    const hotfix = await makeImagesDir({etcd: `FROM ${ref('etcd')}\nRUN echo hotfix > /etc/hotfix\n`})
    const derived = await docker.buildImage({contextDir: join(hotfix, 'etcd'), dockerfile: 'Dockerfile.njk', tags: ['10.0.0.1:4000/osctl/etcd:hotfix']})
    expect(derived.labels['io.osctl.context-hash']).toBe(docker.images.get(ref('etcd'))!.labels['io.osctl.context-hash'])
    // Only the derived image carries etcd's hash any more: another registry's etcd is built, not a tag of it.
    await docker.removeImage(ref('etcd'))
    const other = {...VARS, registry: '10.9.9.9:4000', tag: 'other'}
    expect(statuses((await build(dir, {vars: other})).images)).toEqual({base: 'reused', etcd: 'built', registry: 'reused'})
    expect(docker.images.get('10.9.9.9:4000/osctl/etcd:other')!.id).not.toBe(derived.id)
    // The tag itself naming the derived image (how a test's tag once became keystone:zed): rebuilt, not "unchanged".
    await docker.tagImage(derived.id, ref('etcd'))
    expect(Object.fromEntries((await imageStates(docker, dir, VARS)).map((s) => [s.name, s.state]))).toEqual({base: 'up-to-date', etcd: 'stale', registry: 'up-to-date'})
    reporter = new RecordingReporter()
    expect(statuses((await build(dir)).images)).toEqual({base: 'unchanged', etcd: 'reused', registry: 'unchanged'})
    expect(docker.images.get(ref('etcd'))!.id).toBe(docker.images.get('10.9.9.9:4000/osctl/etcd:other')!.id)
    await docker.removeImage('10.9.9.9:4000/osctl/etcd:other')
    await docker.tagImage(derived.id, ref('etcd'))
    expect(statuses((await build(dir)).images)).toEqual({base: 'unchanged', etcd: 'built', registry: 'unchanged'})
    expect(reporter.of('image.build.start').map((e) => e.data.reason)).toEqual(['derived'])
    expect(docker.images.get(ref('etcd'))!.id).not.toBe(derived.id)
  })

  it('a failure skips its descendants, still builds unrelated images, and fails with details', async () => {
    const dir = await copyShippedImages()
    await makeChild(dir, 'etcd-tools', 'etcd')
    docker.failBuilds.set(ref('etcd'), "The command '/bin/sh -c apt-get install -y etcd-server' returned a non-zero code: 100")
    const err = await failure(build(dir))
    expect(err.code).toBe('BUILD_FAILED')
    expect(err.exitCode).toBe(ExitCode.FAILED)
    expect(err.message).toMatch(/^image build failed: etcd \(The command .* returned a non-zero code: 100\)$/)
    const images = (err.details as {images: ImageResult[]}).images
    expect(statuses(images)).toEqual({base: 'built', etcd: 'failed', 'etcd-tools': 'skipped', registry: 'built'})
    const etcd = images.find((i) => i.name === 'etcd')!
    expect(etcd.logTail).toHaveLength(21)
    expect(etcd.logTail![0]).toBe(`${ref('etcd')} step 11`)
    expect(etcd.logTail!.at(-1)).toContain('non-zero code: 100')
    expect(docker.buildsOf('/etcd-tools:')).toHaveLength(0)
    const [failed] = reporter.of('image.build.failed')
    expect(failed.data.image).toBe('etcd')
    expect(failed.level).toBe('error')
    expect(failed.data.logTail).toEqual(etcd.logTail)
    expect(reporter.of('image.build.skipped').map((e) => e.data)).toEqual([{image: 'etcd-tools', parent: 'etcd'}])
  })

  it('a failed base skips everything below it', async () => {
    docker.failBuilds.set(ref('base'), 'boom')
    const err = await failure(build(await copyShippedImages()))
    expect(statuses((err.details as {images: ImageResult[]}).images)).toEqual({base: 'failed', etcd: 'skipped', registry: 'skipped'})
    expect(err.hint).toContain('etcd, registry')
  })

  it('--push pushes built and unchanged images, parents first', async () => {
    const dir = await copyShippedImages()
    await build(dir, {names: ['base']})
    const {images} = await build(dir, {push: true})
    expect(docker.pushed).toEqual([ref('base'), ref('etcd'), ref('registry')])
    expect(images.every((i) => i.pushed)).toBe(true)
  })

  it('a failed push names the registry and points at osctl.yml', async () => {
    docker.failPushes.set(ref('etcd'), 'connection refused')
    const err = await failure(build(await copyShippedImages(), {push: true}))
    expect(err.message).toBe(`push of etcd to registry ${VARS.registry} failed: connection refused`)
    expect(err.hint).toContain('`registry:` in osctl.yml')
    expect(docker.pushed).toEqual([ref('base'), ref('registry')])
  })

  it('two builds of the same content at once (two osctl on one engine) build each image once; the other waits and takes it', async () => {
    docker.buildDelayMs = 200
    const dir = await fanOut(2)
    const other = {...VARS, registry: 'reg.other:4000'}
    const [a, b, c] = await Promise.all([build(dir), build(dir), build(dir, {vars: other})])
    // One build per content, by whichever call got the lock first; the others found it: under the same name unchanged, under another registry's name a tag of it.
    expect(docker.builds).toHaveLength(3)
    for (const name of ['base', 'leaf1', 'leaf2']) {
      const each = [a, b, c].map((r) => r.images.find((i) => i.name === name)!)
      expect(each.filter((i) => i.status === 'built'), name).toHaveLength(1)
      expect(each.every((i) => ['built', 'unchanged', 'reused'].includes(i.status)), name).toBe(true)
      for (const [i, vars] of [[0, VARS], [2, other]] as const) expect((await docker.inspectImage(ref(name, vars)))?.labels['io.osctl.context-hash'], name).toBe(each[i].contextHash)
    }
  })

  it('an unreachable engine fails before anything is built', async () => {
    docker.unreachable = true
    await expect(build(await copyShippedImages())).rejects.toThrow('unreachable')
    expect(docker.builds).toHaveLength(0)
  })
})

describe('imageStates', () => {
  it('reports missing, up-to-date and stale by comparing context hashes with labels', async () => {
    const dir = await copyShippedImages()
    const state = async () => Object.fromEntries((await imageStates(docker, dir, VARS)).map((s) => [s.name, s.state]))
    expect(await state()).toEqual({base: 'missing', etcd: 'missing', registry: 'missing'})
    await build(dir, {names: ['etcd']})
    expect(await state()).toEqual({base: 'up-to-date', etcd: 'up-to-date', registry: 'missing'})
    await appendFile(join(dir, 'base', 'apt.conf'), '// changed\n')
    expect(await state()).toEqual({base: 'stale', etcd: 'stale', registry: 'missing'})
  })
})

async function makeChild(imagesDir: string, name: string, parent: string) {
  const {mkdir, writeFile} = await import('node:fs/promises')
  await mkdir(join(imagesDir, name))
  await writeFile(join(imagesDir, name, 'Dockerfile.njk'), `FROM {{ image('${parent}') }}\n`)
}
