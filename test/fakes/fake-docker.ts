import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type Docker from 'dockerode'

import type {BuildOptions, ContainerExecResult, DockerClient, ImageInfo} from '../../src/docker/docker-client.js'

export interface FakeBuild {
  ref: string
  labels: Record<string, string>
  networkMode?: string
  /** The Dockerfile the builder received (rendered). */
  dockerfile: string
}

/**
 * In-memory Docker engine for unit tests: images with labels, builds that take time or fail on
 * demand, and a record of every call and of the highest number of builds running at once.
 */
export class FakeDocker implements DockerClient {
  readonly endpoint = 'fake'
  readonly images = new Map<string, ImageInfo>()
  /** Image id → what made it, newest first (like the engine's history CreatedBy). */
  readonly histories = new Map<string, string[]>()
  readonly calls: string[] = []
  readonly builds: FakeBuild[] = []
  readonly pushed: string[] = []
  /** ref → error message: that build fails after printing some log lines. */
  readonly failBuilds = new Map<string, string>()
  /** ref → error message: that push fails. */
  readonly failPushes = new Map<string, string>()
  buildDelayMs = 0
  /** Lines each build prints before finishing (to test the log tail). */
  buildLogLines = 30
  unreachable = false
  active = 0
  maxConcurrency = 0
  private nextId = 1

  get raw(): Docker {
    throw new Error('FakeDocker has no dockerode behind it')
  }

  async ping(): Promise<void> {
    this.calls.push('ping')
    if (this.unreachable) throw new Error('fake engine unreachable')
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    this.calls.push(`inspect ${ref}`)
    const i = this.images.get(ref)
    return i && {...i, labels: {...i.labels}}
  }

  async listImages(labels: Record<string, string>): Promise<ImageInfo[]> {
    this.calls.push(`list ${JSON.stringify(labels)}`)
    const match = (i: ImageInfo) => Object.entries(labels).every(([k, v]) => (v === '' ? k in i.labels : i.labels[k] === v))
    return [...new Set(this.images.values())].filter(match)
  }

  async imageHistory(ref: string): Promise<string[] | undefined> {
    this.calls.push(`history ${ref}`)
    const i = this.images.get(ref) ?? [...this.images.values()].find((x) => x.id === ref)
    return i && [...(this.histories.get(i.id) ?? [])]
  }

  async buildImage(opts: BuildOptions): Promise<ImageInfo> {
    const ref = opts.tags[0]
    this.calls.push(`build ${ref}`)
    const dockerfile = await readFile(join(opts.contextDir, opts.dockerfile ?? 'Dockerfile'), 'utf8')
    this.builds.push({ref, labels: {...opts.labels}, networkMode: opts.networkMode, dockerfile})
    this.active++
    this.maxConcurrency = Math.max(this.maxConcurrency, this.active)
    try {
      if (this.buildDelayMs > 0) await sleep(this.buildDelayMs)
      // Like the engine's classic builder: a Step line per instruction; a RUN that is just `false`
      // or `exit N` fails the build the way the engine words it.
      const steps = [...dockerfile.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')), ...Object.entries(opts.labels ?? {}).map(([k, v]) => `LABEL ${k}=${v}`)]
      for (const [i, step] of steps.entries()) {
        opts.onLog?.(`Step ${i + 1}/${steps.length} : ${step}`)
        const run = /^RUN (.*)$/.exec(step)?.[1]
        const code = run && (/(^|&&\s*)false\s*$/.test(run) ? 1 : Number(/(^|&&\s*)exit (\d+)\s*$/.exec(run)?.[2] ?? 0))
        if (code) throw new Error(`The command '/bin/sh -c ${run}' returned a non-zero code: ${code}`)
      }
      for (let i = 1; i <= this.buildLogLines; i++) opts.onLog?.(`${ref} step ${i}`)
      const failure = this.failBuilds.get(ref)
      if (failure) throw new Error(failure)
      // Like the engine: the image of the last FROM gives its labels and history; each later
      // instruction adds a history entry (a LABEL also a label).
      const from = steps.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true)
      const base = from >= 0 ? this.images.get(steps[from].split(/\s+/)[1]) : undefined
      const own = steps.slice(from + 1)
      const labels = {...base?.labels, ...Object.fromEntries(own.map((l) => /^LABEL ([^=\s]+)=(.*)$/.exec(l)).filter((m) => m !== null).map((m) => [m[1], m[2]]))}
      const history = [...own.map((l) => (l.startsWith('RUN ') ? `/bin/sh -c ${l.slice(4)}` : `/bin/sh -c #(nop)  ${l}`)).reverse(), ...(base ? (this.histories.get(base.id) ?? []) : [])]
      return this.addImage(ref, labels, undefined, history)
    } finally {
      this.active--
    }
  }

  async importImage(_tar: NodeJS.ReadableStream, ref: string): Promise<void> {
    this.calls.push(`import ${ref}`)
    this.addImage(ref, {'io.osctl.managed': 'true'})
  }

  async tagImage(source: string, ref: string): Promise<void> {
    this.calls.push(`tag ${source} ${ref}`)
    const src = this.images.get(source) ?? [...this.images.values()].find((i) => i.id === source)
    if (!src) throw Object.assign(new Error(`no such image: ${source}`), {statusCode: 404})
    const tags = [...new Set([...src.tags, ref])]
    for (const [key, i] of this.images) if (i.id === src.id) this.images.set(key, {...i, tags})
    this.images.set(ref, {...src, tags})
  }

  async pushImage(ref: string, _onLog?: (line: string) => void, opts: {certDir?: string} = {}): Promise<void> {
    this.calls.push(opts.certDir ? `push ${ref} cert-dir=${opts.certDir}` : `push ${ref}`)
    if (!this.images.has(ref)) throw new Error(`An image does not exist locally with the tag: ${ref}`)
    const failure = this.failPushes.get(ref)
    if (failure) throw new Error(failure)
    this.pushed.push(ref)
  }

  /** The image builder never execs into containers; a call is a bug the test should see. */
  async exec(container: string, argv: string[]): Promise<ContainerExecResult> {
    this.calls.push(`exec ${container} ${argv.join(' ')}`)
    throw new Error(`FakeDocker: unexpected exec in ${container}: ${argv.join(' ')}`)
  }

  /** By reference: that tag goes; the image stays while another tag names it (like `docker rmi TAG`). */
  async removeImage(ref: string): Promise<void> {
    this.calls.push(`remove ${ref}`)
    const image = this.images.get(ref)
    this.images.delete(ref)
    if (image) for (const other of this.images.values()) if (other.id === image.id) other.tags = other.tags.filter((t) => t !== ref)
  }

  /** Puts an image in the engine directly (an earlier build, a pulled image). */
  addImage(ref: string, labels: Record<string, string>, size = 1_000_000, history: string[] = []): ImageInfo {
    const id = `sha256:${createHash('sha256').update(`${ref}#${this.nextId++}`).digest('hex')}`
    const info: ImageInfo = {id, tags: [ref], labels: {...labels}, size, created: new Date().toISOString()}
    this.images.set(ref, info)
    this.histories.set(id, history)
    return info
  }

  /** Builds the fake received for refs containing `name` (e.g. '/etcd:'). */
  buildsOf(fragment: string): FakeBuild[] {
    return this.builds.filter((b) => b.ref.includes(fragment))
  }
}
