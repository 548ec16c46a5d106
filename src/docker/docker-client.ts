import Docker from 'dockerode'

import {OsctlError, isOsctlError} from '../errors.js'
import {publishImage} from '../images/image-transport.js'
import {pullError} from './pull-error.js'
import {createBody} from './create-body.js'
import {collectExec, demuxBuffer, followProgress, layerBytes} from './streams.js'
import type {BuildOptions, ContainerClient, ContainerCreateOptions, ContainerExecResult, ContainerInfo, DockerClient, ImageInfo, PullProgress} from './types.js'

export * from './types.js'

function splitRef(ref: string): {repo: string; tag: string} {
  const slash = ref.lastIndexOf('/')
  const colon = ref.lastIndexOf(':')
  if (colon > slash) return {repo: ref.slice(0, colon), tag: ref.slice(colon + 1)}
  return {repo: ref, tag: 'latest'}
}

export class DockerodeClient implements ContainerClient {
  readonly raw: Docker

  constructor(
    readonly endpoint = 'local',
    options?: Docker.DockerOptions,
  ) {
    this.raw = new Docker(options)
  }

  async ping(): Promise<void> {
    try {
      await this.raw.ping()
    } catch (err) {
      // Over SSH, the transport has already said which it is: the host is gone or its socket refused.
      if (isOsctlError(err)) throw err
      throw new OsctlError('DOCKER_UNAVAILABLE', `the Docker engine at ${this.endpoint} does not answer: ${(err as Error).message}`, {
        cause: err,
        hint: 'Start it (scripts/setup.sh starts dockerd on this machine) or check DOCKER_HOST.',
      })
    }
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    try {
      const i = await this.raw.getImage(ref).inspect()
      return {id: i.Id, tags: i.RepoTags ?? [], labels: i.Config?.Labels ?? {}, size: i.Size, created: i.Created}
    } catch (err) {
      if ((err as {statusCode?: number}).statusCode === 404) return undefined
      throw err
    }
  }

  async listImages(labels: Record<string, string>): Promise<ImageInfo[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    const list = await this.raw.listImages({filters: JSON.stringify({label})})
    return list.map((i) => ({id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {}, size: i.Size, created: new Date(i.Created * 1000).toISOString(), digests: i.RepoDigests ?? []}))
  }

  async imageHistory(ref: string): Promise<string[] | undefined> {
    try {
      const entries = (await this.raw.getImage(ref).history()) as Array<{CreatedBy?: string}>
      return entries.map((e) => e.CreatedBy ?? '')
    } catch (err) {
      if ((err as {statusCode?: number}).statusCode === 404) return undefined
      throw err
    }
  }

  async buildImage(opts: BuildOptions): Promise<ImageInfo> {
    const stream = await this.raw.buildImage(
      {context: opts.contextDir, src: ['.']},
      {
        t: opts.tags,
        dockerfile: opts.dockerfile ?? 'Dockerfile',
        labels: opts.labels,
        buildargs: opts.buildArgs,
        networkmode: opts.networkMode,
        rm: true,
        forcerm: true,
      } as unknown as Docker.ImageBuildOptions,
    )
    await followProgress(this.raw, stream, opts.onLog)
    const info = await this.inspectImage(opts.tags[0])
    if (!info) throw new Error(`build finished but ${opts.tags[0]} is not in the engine`)
    return info
  }

  async importImage(tar: NodeJS.ReadableStream, ref: string, changes: string[] = []): Promise<void> {
    const {repo, tag} = splitRef(ref)
    const stream = (await (this.raw.importImage as any)(tar, {repo, tag, changes})) as NodeJS.ReadableStream
    await followProgress(this.raw, stream)
  }

  async tagImage(source: string, ref: string): Promise<void> {
    const {repo, tag} = splitRef(ref)
    await this.raw.getImage(source).tag({repo, tag})
  }

  async pushImage(ref: string, onLog?: (line: string) => void, opts: {certDir?: string} = {}): Promise<void> {
    if (this.endpoint === 'local') {
      // `docker push` would need the local engine reconfigured for the site registry
      // (insecure-registries and a restart, or its CA in certs.d). skopeo reads the image
      // straight from this engine and needs neither.
      onLog?.(`skopeo copy docker-daemon:${ref} docker://${ref}`)
      await publishImage(ref, ref, (await this.inspectImage(ref))?.id, opts.certDir)
      return
    }
    // The engine rejects a push without an X-Registry-Auth header (400), even for a registry that
    // needs no login; an empty auth config is what the docker CLI sends then.
    const stream = (await this.raw.getImage(ref).push({authconfig: {}} as any)) as unknown as NodeJS.ReadableStream
    await followProgress(this.raw, stream, onLog)
  }

  async exec(container: string, argv: string[], opts: {timeoutMs?: number; input?: string} = {}): Promise<ContainerExecResult> {
    const stdin = opts.input !== undefined
    const exec = await this.raw.getContainer(container).exec({Cmd: argv, AttachStdout: true, AttachStderr: true, AttachStdin: stdin})
    const stream = (await exec.start({hijack: true, stdin})) as unknown as NodeJS.ReadWriteStream & {destroy(): void}
    if (opts.input !== undefined) stream.end(opts.input)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      if (opts.timeoutMs === undefined) return
      timer = setTimeout(() => {
        stream.destroy()
        reject(new OsctlError('TIMEOUT', `${container}: \`${argv.join(' ')}\` timed out after ${opts.timeoutMs} ms`))
      }, opts.timeoutMs)
    })
    try {
      const {stdout, stderr} = await Promise.race([collectExec(this.raw, stream), timeout])
      const info = await exec.inspect()
      return {exitCode: info.ExitCode ?? -1, stdout, stderr}
    } finally {
      clearTimeout(timer)
    }
  }

  async removeImage(ref: string, force = false): Promise<void> {
    try {
      await this.raw.getImage(ref).remove({force})
    } catch (err) {
      if ((err as {statusCode?: number}).statusCode !== 404) throw err
    }
  }

  // Container methods (see ContainerClient), used by deploy and `osctl service`.

  async pullImage(ref: string, opts: {onProgress?: (p: PullProgress) => void} = {}): Promise<ImageInfo> {
    const {repo, tag} = splitRef(ref)
    try {
      const stream = (await this.raw.pull(`${repo}:${tag}`, {authconfig: {}} as any)) as NodeJS.ReadableStream
      await followProgress(this.raw, stream, undefined, opts.onProgress && layerBytes(opts.onProgress))
    } catch (err) {
      throw pullError(this.endpoint, ref, err)
    }
    const info = await this.inspectImage(ref)
    if (!info) throw new OsctlError('IMAGE_UNKNOWN', `${this.endpoint}: pulled ${ref} but the engine does not list it`)
    return info
  }

  async createContainer(o: ContainerCreateOptions): Promise<string> {
    return (await this.raw.createContainer(createBody(o))).id
  }

  async inspectContainer(name: string): Promise<ContainerInfo | undefined> {
    try {
      const i = await this.raw.getContainer(name).inspect()
      return {
        id: i.Id,
        name: i.Name.replace(/^\//, ''),
        image: i.Config.Image,
        imageId: i.Image,
        labels: i.Config.Labels ?? {},
        state: i.State.Status,
        health: (i.State as {Health?: {Status?: string}}).Health?.Status,
        exitCode: i.State.ExitCode,
        startedAt: i.State.StartedAt,
        ...(i.State.FinishedAt && !i.State.FinishedAt.startsWith('0001-') ? {finishedAt: i.State.FinishedAt} : {}),
        ...(i.State.Running && i.State.Pid > 0 ? {pid: i.State.Pid} : {}),
      }
    } catch (err) {
      if ((err as {statusCode?: number}).statusCode === 404) return undefined
      throw err
    }
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`))
    const list = await this.raw.listContainers({all: true, filters: JSON.stringify({label})})
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      image: c.Image,
      imageId: c.ImageID,
      labels: c.Labels ?? {},
      state: c.State,
      health: /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1]?.replace('health: ', ''),
    }))
  }

  async startContainer(name: string): Promise<void> {
    try {
      await this.raw.getContainer(name).start()
    } catch (err) {
      if ((err as {statusCode?: number}).statusCode !== 304) throw err
    }
  }

  async stopContainer(name: string, timeoutSeconds = 20): Promise<void> {
    try {
      await this.raw.getContainer(name).stop({t: timeoutSeconds})
    } catch (err) {
      const code = (err as {statusCode?: number}).statusCode
      if (code !== 304 && code !== 404) throw err
    }
  }

  async removeContainer(name: string): Promise<void> {
    try {
      await this.raw.getContainer(name).remove({force: true})
    } catch (err) {
      if ((err as {statusCode?: number}).statusCode !== 404) throw err
    }
  }

  async renameContainer(name: string, to: string): Promise<void> {
    await this.raw.getContainer(name).rename({name: to})
  }

  async waitContainer(name: string, timeoutMs?: number): Promise<number> {
    const wait = this.raw.getContainer(name).wait() as Promise<{StatusCode: number}>
    if (timeoutMs === undefined) return (await wait).StatusCode
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OsctlError('TIMEOUT', `${this.endpoint}: container ${name} still runs after ${timeoutMs / 1000}s`)), timeoutMs)
    })
    try {
      return (await Promise.race([wait, timeout])).StatusCode
    } finally {
      clearTimeout(timer)
    }
  }

  async containerLogs(name: string, tail?: number, since?: string): Promise<string> {
    const buf = (await this.raw.getContainer(name).logs({
      stdout: true,
      stderr: true,
      follow: false,
      ...(tail === undefined ? {} : {tail}),
      // The engine takes `seconds.nanoseconds` (what `docker logs --since` sends), not RFC 3339.
      ...(since === undefined ? {} : {since: unixSeconds(since) as unknown as number}),
    })) as unknown as Buffer
    return demuxBuffer(Buffer.from(buf))
  }

}

/** RFC 3339 with up to nanoseconds (Docker's times) → `seconds.nanoseconds`, without losing the nanoseconds to a JS number. */
export function unixSeconds(rfc3339: string): string {
  const m = /^(.*?:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339)
  if (!m) throw new Error(`not an RFC 3339 time: ${rfc3339}`)
  const seconds = Date.parse(`${m[1]}${m[3]}`) / 1000
  if (Number.isNaN(seconds)) throw new Error(`not an RFC 3339 time: ${rfc3339}`)
  return `${seconds}.${(m[2] ?? '').padEnd(9, '0')}`
}

/** The engine on the machine running osctl (DOCKER_HOST or /var/run/docker.sock). */
export function localDocker(): DockerClient {
  return new DockerodeClient('local')
}

export {demuxBuffer} from './streams.js'
