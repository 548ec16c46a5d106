import {execa} from 'execa'
import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {REPO_ROOT, eventsOf, runCli} from '../../helpers/cli.js'

const SKIP = process.env.OSCTL_SKIP_INTEGRATION === '1'
const TAG = `t${process.pid}`
const NO_SITE = '/nonexistent/osctl-image-test-site'
const ref = (name: string, registry = 'localhost:4000') => `${registry}/osctl/${name}:${TAG}`
const BUILD_TIMEOUT = 900_000

interface Row {
  name: string
  status?: string
  state?: string
  ref: string
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as {port: number}).port
  await new Promise((resolve) => srv.close(resolve))
  return port
}

const imageId = async (r: string) => (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', r])).stdout.trim()
const statuses = (rows: Row[]) => Object.fromEntries(rows.map((r) => [r.name, r.status ?? r.state]))

async function waitFor(url: string, timeoutMs = 30_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const res = await fetch(url)
      if (res.ok) return res
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs / 1000}s`)
    await sleep(300)
  }
}

describe.skipIf(SKIP)('image build (real Docker)', () => {
  const containers: string[] = []
  let scratch: string
  let systemImages: string
  const cli = (args: string[], opts: {env?: Record<string, string>; timeoutMs?: number} = {}) =>
    runCli(args, {...opts, env: {OSCTL_IMAGES_DIR: systemImages, ...opts.env}})

  beforeAll(async () => {
    // Fail loudly: a missing engine must not look like a pass.
    const r = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], {reject: false})
    if (r.exitCode !== 0) throw new Error(`Docker is not available (set OSCTL_SKIP_INTEGRATION=1 to skip): ${r.stderr}`)
    scratch = await mkdtemp(join(tmpdir(), 'osctl-image-it-'))
    // This file is about the builder, not the whole catalog: it builds the system-container tree.
    systemImages = join(scratch, 'system-images')
    for (const name of ['base', 'etcd', 'registry']) await cp(join(REPO_ROOT, 'images', name), join(systemImages, name), {recursive: true})
    // Content of this run's own (a content already built on this machine is reused, not rebuilt).
    const baseFile = join(systemImages, 'base', 'Dockerfile.njk')
    await writeFile(baseFile, `${await readFile(baseFile, 'utf8')}\nLABEL io.osctl.test-run="${TAG}"\n`)
  })

  afterAll(async () => {
    for (const c of containers) await execa('docker', ['rm', '-f', c], {reject: false})
    // Sweep by label and this run's tag only: other runs' and the operator's images stay.
    const list = await execa('docker', ['images', '--filter', 'label=io.osctl.image', '--format', '{{.Repository}}:{{.Tag}}'], {reject: false})
    const mine = list.stdout.split('\n').filter((r) => r.endsWith(`:${TAG}`))
    if (mine.length > 0) await execa('docker', ['rmi', '-f', ...mine], {reject: false})
    if (scratch) await rm(scratch, {recursive: true, force: true})
  })

  it('builds base, then etcd and registry', async () => {
    const r = await cli(['image', 'build', 'etcd', 'registry', '--site', NO_SITE, '--tag', TAG, '--json'], {timeoutMs: BUILD_TIMEOUT})
    expect(r.exitCode, r.stderr).toBe(0)
    const {images} = JSON.parse(r.stdout) as {images: Row[]}
    expect(images.map((i) => i.name)).toEqual(['base', 'etcd', 'registry'])
    expect(statuses(images)).toEqual({base: 'built', etcd: 'built', registry: 'built'})
    const events = eventsOf(r.stderr)
    expect(events.filter((e) => e.code === 'image.defaults')).toHaveLength(1)
    // base finished before either child started, and the builds showed their steps.
    const at = (code: string, image: string) => events.findIndex((e) => e.code === code && e.data.image === image)
    expect(at('image.build.done', 'base')).toBeGreaterThanOrEqual(0)
    expect(at('image.build.done', 'base')).toBeLessThan(at('image.build.start', 'etcd'))
    expect(events.some((e) => e.code === 'image.build.step' && e.data.image === 'etcd' && Number(e.data.of) > 1)).toBe(true)
    const labels = JSON.parse((await execa('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', ref('etcd')])).stdout)
    expect(labels).toMatchObject({'io.osctl.managed': 'true', 'io.osctl.image': 'etcd'})
    expect(labels['io.osctl.context-hash']).toBe((images[1] as Row & {contextHash: string}).contextHash)
  })

  it('a second run rebuilds nothing', async () => {
    const before = await Promise.all(['base', 'etcd', 'registry'].map((n) => imageId(ref(n))))
    const r = await cli(['image', 'build', 'etcd', 'registry', '--site', NO_SITE, '--tag', TAG, '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(statuses(JSON.parse(r.stdout).images)).toEqual({base: 'unchanged', etcd: 'unchanged', registry: 'unchanged'})
    expect(eventsOf(r.stderr).map((e) => e.code).filter((c) => c.startsWith('image.build.'))).toEqual(['image.build.unchanged', 'image.build.unchanged', 'image.build.unchanged'])
    expect(await Promise.all(['base', 'etcd', 'registry'].map((n) => imageId(ref(n))))).toEqual(before)
  })

  it('the etcd image serves /health', async () => {
    const [client, peer] = [await freePort(), await freePort()]
    const c = `osctl-it-etcd-${TAG}`
    containers.push(c)
    const url = (p: number) => `http://127.0.0.1:${p}`
    await execa('docker', ['run', '-d', '--rm', '--name', c, '--net', 'host', ref('etcd'), '--name', 'it', `--listen-client-urls=${url(client)}`,
      `--advertise-client-urls=${url(client)}`, `--listen-peer-urls=${url(peer)}`, `--initial-advertise-peer-urls=${url(peer)}`,
      `--initial-cluster=it=${url(peer)}`])
    const res = await waitFor(`${url(client)}/health`)
    expect(await res.json()).toMatchObject({health: 'true'})
    const put = await execa('docker', ['exec', c, 'etcdctl', `--endpoints=${url(client)}`, 'put', 'k', 'v'])
    expect(put.stdout).toBe('OK')
  })

  it('--push sends every image to a registry started from the registry image; another registry reuses the same content, nothing rebuilt', async () => {
    const port = await freePort()
    const registry = `127.0.0.1:${port}`
    const c = `osctl-it-registry-${TAG}`
    containers.push(c)
    await execa('docker', ['run', '-d', '--rm', '--name', c, '--net', 'host', '-e', `REGISTRY_HTTP_ADDR=${registry}`, ref('registry')])
    expect((await waitFor(`http://${registry}/v2/`)).status).toBe(200)
    const r = await cli(['image', 'build', 'etcd', 'registry', '--site', NO_SITE, '--tag', TAG, '--registry', registry, '--push', '--json'], {
      timeoutMs: BUILD_TIMEOUT,
    })
    expect(r.exitCode, r.stderr).toBe(0)
    const {images} = JSON.parse(r.stdout) as {images: Array<Row & {pushed: boolean}>}
    expect(images.every((i) => i.pushed && i.ref === ref(i.name, registry))).toBe(true)
    // A registry address is a name, not content: the images built for localhost:4000 are tagged.
    expect(statuses(images)).toEqual({base: 'reused', etcd: 'reused', registry: 'reused'})
    expect(eventsOf(r.stderr).filter((e) => e.code === 'image.build.reused').map((e) => [e.data.image, e.data.from]).sort()).toEqual(
      ['base', 'etcd', 'registry'].map((n) => [n, ref(n)]),
    )
    for (const n of ['base', 'etcd', 'registry']) expect(await imageId(ref(n, registry))).toBe(await imageId(ref(n)))
    const catalog = await (await fetch(`http://${registry}/v2/_catalog`)).json()
    expect(catalog.repositories).toEqual(['osctl/base', 'osctl/etcd', 'osctl/registry'])
    const tags = await (await fetch(`http://${registry}/v2/osctl/etcd/tags/list`)).json()
    expect(tags.tags).toEqual([TAG])
  })

  it('--push to a registry that does not run names it and points at osctl.yml', async () => {
    const registry = `127.0.0.1:${await freePort()}`
    const r = await cli(['image', 'build', 'base', '--site', NO_SITE, '--tag', TAG, '--registry', registry, '--push'], {timeoutMs: BUILD_TIMEOUT})
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toContain(`push of base to registry ${registry} failed`)
    expect(r.stderr).toContain('`registry:` in osctl.yml')
  })

  it('a broken etcd Dockerfile fails etcd with its log tail and still builds the rest', async () => {
    const images = join(scratch, 'images')
    await cp(systemImages, images, {recursive: true})
    const file = join(images, 'etcd', 'Dockerfile.njk')
    await writeFile(file, (await readFile(file, 'utf8')).replace('RUN osctl-apt-install', 'RUN echo osctl-broken-marker && false && osctl-apt-install'))
    const env = {OSCTL_IMAGES_DIR: images}
    const r = await cli(['image', 'build', '--site', NO_SITE, '--tag', TAG, '--progress', 'json'], {env, timeoutMs: BUILD_TIMEOUT})
    expect(r.exitCode).toBe(1)
    const events = eventsOf(r.stderr)
    const failed = events.filter((e) => e.code === 'image.build.failed')
    expect(failed.map((e) => [e.level, e.data.image])).toEqual([['error', 'etcd']])
    expect((failed[0].data.logTail as string[]).join('\n')).toContain('osctl-broken-marker')
    expect(String(failed[0].data.error)).toMatch(/returned a non-zero code: 1/)
    expect(r.stderr).toContain('Error: image build failed: etcd (')
    expect(events.filter((e) => e.code === 'image.build.unchanged').map((e) => e.data.image)).toContain('registry')
    expect(r.stderr).not.toMatch(/\n\s+at /)

    const list = await cli(['image', 'list', '--site', NO_SITE, '--tag', TAG, '--json'], {env})
    expect(list.exitCode, list.stderr).toBe(0)
    expect(statuses(JSON.parse(list.stdout).images)).toEqual({base: 'up-to-date', etcd: 'stale', registry: 'up-to-date'})
  })

  it('image list reports up-to-date, and missing for a tag never built', async () => {
    const r = await cli(['image', 'list', '--site', NO_SITE, '--tag', TAG, '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const rows = JSON.parse(r.stdout).images as Array<Row & {size: number; parent: string | null}>
    expect(statuses(rows)).toEqual({base: 'up-to-date', etcd: 'up-to-date', registry: 'up-to-date'})
    expect(rows.find((i) => i.name === 'etcd')).toMatchObject({parent: 'base', ref: ref('etcd')})
    expect(rows.every((i) => i.size > 0)).toBe(true)
    const missing = await cli(['image', 'list', '--site', NO_SITE, '--tag', `${TAG}-never`, '--json'])
    expect(statuses(JSON.parse(missing.stdout).images)).toEqual({base: 'missing', etcd: 'missing', registry: 'missing'})
  })
})
