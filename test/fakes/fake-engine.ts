import {createHash} from 'node:crypto'

import type {ContainerClient, ContainerCreateOptions, ContainerInfo, ImageInfo} from '../../src/docker/docker-client.js'
import {OsctlError} from '../../src/errors.js'
import {FakeDocker} from './fake-docker.js'

/**
 * FakeDocker plus containers, for the deploy flow: create/start/stop/remove/list by label, pull,
 * exec and logs. Started containers run until stopped; `exitCodes` makes one-shot containers
 * (bootstrap steps) exit with a given code.
 */
export class FakeEngine extends FakeDocker implements ContainerClient {
  readonly containers = new Map<string, ContainerInfo & {opts: ContainerCreateOptions}>()
  readonly execs: Array<{container: string; argv: string[]; input?: string}> = []
  /** Image refs the registry has (pull fails for others). */
  readonly registry = new Set<string>()
  /** Labels of registry images (as their Dockerfile's LABEL lines set them); none by default. */
  readonly registryLabels = new Map<string, Record<string, string>>()
  /** Container name → exit code of its one-shot run. */
  readonly exitCodes = new Map<string, number>()
  /** Container name → how long its one-shot run takes (ms): waitContainer returns after it. */
  readonly runMs = new Map<string, number>()
  /** Container name → what it prints (its logs). */
  readonly output = new Map<string, string>()
  /**
   * Image id or ref → the content of its files, as far as a one-shot `… | sha256sum` (the fingerprint of
   * image paths, bootstrap-steps.ts) sees it; default: the image id, so every image differs.
   */
  readonly imageContent = new Map<string, string>()
  private ids = 1
  private readonly printed = new Map<string, string>()
  /** Container id → when each of its runs started (ms): logs `since` a time hold its output only when a run started after it. */
  private readonly runs = new Map<string, number[]>()

  async pullImage(ref: string): Promise<ImageInfo> {
    this.calls.push(`pull ${ref}`)
    if (!this.registry.has(ref)) {
      // Worded like DockerodeClient.pullImage, which the contract is about.
      throw new OsctlError('IMAGE_UNKNOWN', `fake: cannot pull ${ref}: manifest unknown`, {hint: `build and push it first: \`osctl image build ${ref.split('/').at(-1)!.split(':')[0]} --push\``})
    }
    return this.images.get(ref) ?? this.addImage(ref, this.registryLabels.get(ref) ?? {})
  }

  /** By ref, or by image id as the engine also accepts (rollback creates containers by id). */
  override async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    const byRef = await super.inspectImage(ref)
    if (byRef) return byRef
    const byId = [...this.images.values()].find((i) => i.id === ref)
    return byId && {...byId, labels: {...byId.labels}}
  }

  async createContainer(opts: ContainerCreateOptions): Promise<string> {
    this.calls.push(`create ${opts.name}`)
    if (this.containers.has(opts.name)) throw new Error(`Conflict: container name ${opts.name} in use`)
    const id = `c${this.ids++}`
    const image = this.images.get(opts.image) ?? [...this.images.values()].find((i) => i.id === opts.image)
    const imageId = image?.id ?? opts.image
    this.containers.set(opts.name, {id, name: opts.name, image: opts.image, imageId, labels: {...opts.labels}, state: 'created', opts})
    if (opts.command?.join(' ').includes('| sha256sum')) {
      // readImageFingerprints: `<sha256>  <paths>` per set of paths (sh -c SCRIPT osctl-fingerprint SET…); the fake hashes the image's content, not per path.
      const hash = createHash('sha256').update(this.imageContent.get(imageId) ?? this.imageContent.get(opts.image) ?? imageId).digest('hex')
      this.printed.set(id, opts.command.slice(4).map((set) => `${hash}  ${set}\n`).join(''))
    }
    return id
  }

  async inspectContainer(name: string): Promise<ContainerInfo | undefined> {
    const c = this.containers.get(name)
    // Like the engine: a main process while it runs (a fake pid, 1000 + its number), and a health
    // state while it runs with a check of its own: `starting` (the engine's until its first check
    // passes; the fake runs none, so osctl probes it as it does a container Docker has not checked yet).
    return c && {...c, labels: {...c.labels}, ...(c.state === 'running' ? {pid: 1000 + Number(c.id.slice(1))} : {}), ...FakeEngine.health(c)}
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const match = (c: ContainerInfo) => Object.entries(labels).every(([k, v]) => (v === '' ? k in c.labels : c.labels[k] === v))
    return [...this.containers.values()].filter(match).map((c) => ({...c, ...FakeEngine.health(c)}))
  }

  /** What a test set (Docker's verdict after its checks ran), else `starting` for a running container with a check. */
  private static health(c: {state: string; health?: string; opts: ContainerCreateOptions}): {health?: string} {
    if (c.health !== undefined) return {health: c.health}
    const checked = c.state === 'running' && c.opts.healthcheck !== undefined && c.opts.healthcheck.test[0] !== 'NONE'
    return checked ? {health: 'starting'} : {}
  }

  async startContainer(name: string): Promise<void> {
    this.calls.push(`start ${name}`)
    const c = this.mustGet(name)
    if (c.state === 'running') return
    const code = this.exitCodes.get(name)
    this.runs.set(c.id, [...(this.runs.get(c.id) ?? []), Date.now()])
    c.startedAt = new Date().toISOString()
    c.state = code === undefined ? 'running' : 'exited'
    c.exitCode = code
    if (code !== undefined) c.finishedAt = new Date().toISOString()
  }

  async stopContainer(name: string): Promise<void> {
    this.calls.push(`stop ${name}`)
    const c = this.containers.get(name)
    if (c?.state === 'running') c.finishedAt = new Date().toISOString()
    if (c) c.state = 'exited'
  }

  async removeContainer(name: string): Promise<void> {
    if (this.containers.delete(name)) this.calls.push(`rm ${name}`)
  }

  async renameContainer(name: string, to: string): Promise<void> {
    this.calls.push(`rename ${name} ${to}`)
    const c = this.mustGet(name)
    if (this.containers.has(to)) throw new Error(`Conflict: container name ${to} in use`)
    this.containers.delete(name)
    this.containers.set(to, {...c, name: to})
  }

  async waitContainer(name: string): Promise<number> {
    const ms = this.runMs.get(name)
    if (ms) await new Promise((resolve) => setTimeout(resolve, ms))
    return this.mustGet(name).exitCode ?? 0
  }

  /** What it prints, the same every run; with `since`, only when a run started at or after that instant. */
  async containerLogs(name: string, _tail?: number, since?: string): Promise<string> {
    const c = this.mustGet(name)
    if (since !== undefined && !(this.runs.get(c.id) ?? []).some((at) => at >= Date.parse(since))) return ''
    return this.output.get(name) ?? this.printed.get(c.id) ?? ''
  }

  /**
   * Like `docker exec`: refused (409) unless the container runs; `sh -c 'exit N'` exits N, anything
   * else succeeds (the fake runs nothing).
   */
  override async exec(container: string, argv: string[], opts: {input?: string} = {}): Promise<{exitCode: number; stdout: string; stderr: string}> {
    this.execs.push({container, argv, ...(opts.input !== undefined ? {input: opts.input} : {})})
    if (this.mustGet(container).state !== 'running') throw Object.assign(new Error(`container ${container} is not running`), {statusCode: 409})
    const exit = argv[0] === 'sh' && argv[1] === '-c' ? /^exit (\d+)$/.exec(argv[2] ?? '') : null
    // `cat` echoes its stdin, as the contract checks against a real engine.
    return {exitCode: exit ? Number(exit[1]) : 0, stdout: argv.join(' ') === 'cat' ? (opts.input ?? '') : '', stderr: ''}
  }

  /** Names of containers created (not steps) in call order. */
  /** Containers created, by the name they serve under (the swap creates `<name>.next`, then renames it). */
  /** Service containers created (not the one-shot bootstrap steps and image fingerprints). */
  created(): string[] {
    return this.calls.filter((c) => c.startsWith('create ') && !/osctl-(bootstrap|fingerprint)-/.test(c)).map((c) => c.slice(7).replace(/\.next$/, ''))
  }

  /** Image id → message: the engine refuses (409) to remove it, as when a container appeared meanwhile. */
  readonly refuseRemove = new Map<string, string>()

  /**
   * By ref exactly as FakeDocker; by image id like `docker rmi <id>`: every tag of it goes, and an
   * image a container uses is refused (409) unless forced.
   */
  override async removeImage(ref: string, force = false): Promise<void> {
    const tagged = [...this.images.entries()].filter(([, i]) => i.id === ref)
    if (tagged.length === 0) return super.removeImage(ref)
    this.calls.push(`remove ${ref}`)
    const user = [...this.containers.values()].find((c) => c.imageId === ref)
    const refusal = this.refuseRemove.get(ref) ?? (user && !force ? `conflict: unable to delete ${ref.slice(7, 19)} (must be forced) - image is being used by ${user.state} container ${user.id}` : undefined)
    if (refusal) throw Object.assign(new Error(refusal), {statusCode: 409})
    for (const [key] of tagged) this.images.delete(key)
  }

  private mustGet(name: string) {
    const c = this.containers.get(name)
    if (!c) throw Object.assign(new Error(`no such container: ${name}`), {statusCode: 404})
    return c
  }
}
