import {interruptRequested, throwIfInterrupted} from '../cli/interrupt.js'
import {cp, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {DockerClient, type ImageInfo} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'
import {Semaphore} from '../hosts/semaphore.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {contextHash} from './context-hash.js'
import {withBuildLock} from './build-lock.js'
import {ImageDef, ImageGraph, TEMPLATE_NAME, loadImageGraph} from './image-graph.js'
import {ImageVars} from './image-vars.js'
import {pushImages} from './push-images.js'
import {LABELS} from '../labels.js'

/** reused: the same content was already built under another name (another registry or tag) and is tagged, not rebuilt. */
export type ImageStatus = 'built' | 'unchanged' | 'reused' | 'failed' | 'skipped'

export interface ImageResult {
  name: string
  ref: string
  status: ImageStatus
  contextHash: string
  /** Wall time spent on this image (build, or the check that found it unchanged). */
  seconds: number
  /** Bytes, as the engine reports them; null when the image does not exist (failed, skipped). */
  size: number | null
  parent: string | null
  /** Why it failed or was skipped. */
  error?: string
  /** The last lines of a failed build's log. */
  logTail?: string[]
  /** Set with --push: whether the push succeeded. */
  pushed?: boolean
}

export interface BuildImagesResult {
  images: ImageResult[]
}

export interface BuildImagesOptions {
  docker: DockerClient
  imagesDir: string
  vars: ImageVars
  /** Build these and their ancestors; empty or absent: every image. */
  names?: string[]
  parallel?: number
  push?: boolean
  /** The site CA dir for the push (tls.registry); see siteRegistryCertDir. */
  pushCertDir?: string
  reporter?: Reporter
  /** Makes vars.rootfs_image exist; called only when an image FROM it must actually be built. */
  ensureRootfs?: () => Promise<unknown>
  logTailLines?: number
}


/**
 * Content hashes for every image of the graph, parents first (each includes its parents'). What a
 * parent is called (registry, namespace, tag) is not content: FROM lines naming an osctl parent are
 * hashed as that parent's name, so one content is built once per machine, whatever site or tag
 * asks for it.
 */
export async function graphHashes(graph: ImageGraph): Promise<Map<string, string>> {
  const hashes = new Map<string, string>()
  const byRef = new Map([...graph.images.values()].map((d) => [d.ref, d.name]))
  for (const name of graph.order) {
    const def = graph.images.get(name)!
    hashes.set(name, await contextHash(def.dir, contentDockerfile(def.dockerfile, byRef), def.parents.map((p) => hashes.get(p)!)))
  }
  return hashes
}

/** The rendered Dockerfile with every FROM token that names an osctl image replaced by `osctl-image:<name>`. */
export function contentDockerfile(dockerfile: string, byRef: Map<string, string>): string {
  return dockerfile
    .split('\n')
    .map((line) => (/^\s*FROM\s/i.test(line) ? line.replace(/\S+/g, (tok) => (byRef.has(tok) ? `osctl-image:${byRef.get(tok)}` : tok)) : line))
    .join('\n')
}

/**
 * kolla-build, done better: parents first, independent images in parallel, an image whose tag
 * already carries the same context hash is left alone, and a failure skips only its descendants.
 */
export async function buildImages(opts: BuildImagesOptions): Promise<BuildImagesResult> {
  const reporter = opts.reporter ?? silentReporter
  const graph = await loadImageGraph(opts.imagesDir, opts.vars, opts.names)
  const hashes = await graphHashes(graph)
  await opts.docker.ping()
  const sem = new Semaphore(opts.parallel ?? 2)
  const results = new Map<string, Promise<ImageResult>>()
  for (const name of graph.order) {
    const def = graph.images.get(name)!
    const parents = def.parents.map((p) => results.get(p)!)
    results.set(name, buildWhenReady(def, hashes.get(name)!, parents, sem, opts, reporter))
  }
  const images = await Promise.all(graph.order.map((n) => results.get(n)!))
  throwIfInterrupted(`building ${images.filter((i) => i.status === 'skipped').map((i) => i.name).join(', ') || 'pushing'}`)
  const pushFailures = opts.push ? await pushImages(opts.docker, images, opts.vars.registry, reporter, opts.pushCertDir) : []

  const failed = images.filter((i) => i.status === 'failed')
  if (failed.length > 0) {
    const skipped = images.filter((i) => i.status === 'skipped').map((i) => i.name)
    throw new OsctlError('BUILD_FAILED', `image build failed: ${failed.map((f) => `${f.name} (${f.error})`).join('; ')}`, {
      hint: `${skipped.length > 0 ? `skipped because a parent failed: ${skipped.join(', ')}. ` : ''}Fix the Dockerfile.njk named above and re-run; unchanged images are not rebuilt.`,
      details: {images},
    })
  }
  if (pushFailures.length > 0) throw pushFailures.length === 1 ? pushFailures[0] : new OsctlError(pushFailures[0].code, `${pushFailures.length} pushes failed: ${pushFailures.map((e) => e.message).join('; ')}`, {hint: pushFailures[0].hint, details: {images}})
  return {images}
}

async function buildWhenReady(
  def: ImageDef,
  hash: string,
  parents: Array<Promise<ImageResult>>,
  sem: Semaphore,
  opts: BuildImagesOptions,
  reporter: Reporter,
): Promise<ImageResult> {
  const base = {name: def.name, ref: def.ref, contextHash: hash, parent: def.parent}
  const done = await Promise.all(parents)
  const bad = done.find((p) => p.status === 'failed' || p.status === 'skipped')
  if (bad) {
    const error = `parent ${bad.name} ${bad.status === 'failed' ? 'failed' : 'was skipped'}`
    reporter.emit('image.build.skipped', {image: def.name, parent: bad.name})
    return {...base, status: 'skipped', seconds: 0, size: null, error}
  }
  const started = Date.now()
  const seconds = () => Math.round((Date.now() - started) / 100) / 10
  // What the engine has under this name, looked at again after waiting for another build.
  let existing: Awaited<ReturnType<DockerClient['inspectImage']>>
  /** The tag names an image built FROM this one's build (its labels, other content). */
  let derived = false
  const look = async (): Promise<ImageResult | undefined> => {
    existing = await opts.docker.inspectImage(def.ref)
    if (existing && (await ownBuild(opts.docker, existing, def.name, hash))) {
      reporter.emit('image.build.unchanged', {image: def.name, ref: def.ref})
      return {...base, status: 'unchanged', seconds: seconds(), size: existing.size}
    }
    derived = existing?.labels[LABELS.contextHash] === hash
    let same: ImageInfo | undefined
    for (const c of await opts.docker.listImages({[LABELS.contextHash]: hash})) {
      if (c.id !== existing?.id && (await ownBuild(opts.docker, c, def.name, hash))) {
        same = c
        break
      }
    }
    if (!same) return undefined
    await opts.docker.tagImage(same.id, def.ref)
    reporter.emit('image.build.reused', {image: def.name, ref: def.ref, from: same.tags[0] ?? same.id})
    return {...base, status: 'reused', seconds: seconds(), size: same.size}
  }
  // Checked before taking a build slot: an unchanged image must not wait behind real builds.
  const found = await look()
  if (found) return found
  // Another osctl on this machine may be building the same content: wait for it, then take its image.
  return withBuildLock(hash, async () => (await look()) ?? build())

  function build(): Promise<ImageResult> {
    return sem.use(async () => {
      // After a signal the builds running finish; none starts.
      if (interruptRequested()) return {...base, status: 'skipped' as const, seconds: 0, size: null, error: 'interrupted'}
      reporter.emit('image.build.start', {image: def.name, ref: def.ref, reason: derived ? 'derived' : existing ? 'context-changed' : 'new'})
      const tail: string[] = []
      const keep = opts.logTailLines ?? 20
      try {
        if (def.froms.some((f) => f.ref === opts.vars.rootfs_image)) await opts.ensureRootfs?.()
        const info = await buildOne(opts.docker, def, hash, (line) => {
          tail.push(line)
          if (tail.length > keep) tail.shift()
          const step = /^Step (\d+)\/(\d+) : (.*)$/.exec(line)
          if (step) reporter.emit('image.build.step', {image: def.name, step: Number(step[1]), of: Number(step[2]), instruction: step[3].slice(0, 200)})
        })
        reporter.emit('image.build.done', {image: def.name, ref: def.ref, seconds: seconds(), bytes: info.size})
        return {...base, status: 'built' as const, seconds: seconds(), size: info.size}
      } catch (err) {
        const error = errorMessage(err).split('\n')[0]
        if (tail.at(-1) !== error) tail.push(error)
        reporter.emit('image.build.failed', {image: def.name, seconds: seconds(), error, logTail: tail})
        return {...base, status: 'failed' as const, seconds: seconds(), size: null, error, logTail: tail}
      }
    })
  }
}

/** The labels osctl gives the builder for an image (the builder adds them as the last steps). */
const buildLabels = (name: string, hash: string): Record<string, string> => ({[LABELS.managed]: 'true', [LABELS.image]: name, [LABELS.contextHash]: hash})

/**
 * Whether the image is osctl's build of image `name` with this content hash, rather than another
 * content or an image built FROM it. Labels go through FROM: `FROM keystone:zed` + `RUN …` (a
 * test's upgrade tag, an operator's hotfix) carries keystone's context hash, and taken for the
 * build it would be tagged, pushed and deployed as keystone:zed. Its history is not cut though:
 * osctl's own build's newest entries are exactly the labels osctl gave the builder (in any order);
 * the derived image's newest is its own instruction.
 */
export async function ownBuild(docker: DockerClient, image: Pick<ImageInfo, 'id' | 'labels'>, name: string, hash: string): Promise<boolean> {
  if (image.labels[LABELS.contextHash] !== hash) return false
  const history = await docker.imageHistory(image.id)
  const want = Object.entries(buildLabels(name, hash)).map(([k, v]) => `${k}=${v}`)
  if (!history || history.length < want.length) return false
  const newest = history.slice(0, want.length).map((h) => {
    const m = /#\(nop\)\s+LABEL\s+([^=\s]+)=("?)(.*)\2\s*$/.exec(h)
    return m ? `${m[1]}=${m[3]}` : undefined
  })
  return want.every((w) => newest.includes(w))
}

/** The builder wants a plain Dockerfile: stage a copy of the image dir with the rendered one. */
async function buildOne(docker: DockerClient, def: ImageDef, hash: string, onLog: (line: string) => void) {
  const stage = await mkdtemp(join(tmpdir(), `osctl-image-${def.name}-`))
  try {
    await cp(def.dir, stage, {recursive: true})
    await rm(join(stage, TEMPLATE_NAME), {force: true})
    await writeFile(join(stage, 'Dockerfile'), def.dockerfile)
    return await docker.buildImage({
      contextDir: stage,
      tags: [def.ref],
      labels: buildLabels(def.name, hash),
      // RUN steps reach the apt mirror the way the host does (no bridge NAT/DNS surprises).
      networkMode: 'host',
      onLog,
    })
  } finally {
    await rm(stage, {recursive: true, force: true})
  }
}

export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-'
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
