import type Docker from 'dockerode'

// The engine as osctl sees it: what DockerodeClient (local or over SSH) and the test fakes implement.

export interface BuildOptions {
  /** Directory used as build context (Dockerfile inside it, named by `dockerfile`). */
  contextDir: string
  dockerfile?: string
  tags: string[]
  labels?: Record<string, string>
  buildArgs?: Record<string, string>
  /** 'host' lets RUN steps reach the apt mirror without relying on the bridge's NAT and DNS. */
  networkMode?: string
  onLog?: (line: string) => void
}

export interface ContainerExecResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface ImageInfo {
  id: string
  tags: string[]
  labels: Record<string, string>
  size: number
  created: string
  /** `repo@sha256:…` of the manifests it was pulled or pushed as (Docker's RepoDigests), when the engine said. */
  digests?: string[]
}

/**
 * One interface over a Docker engine (testcontainers style): the local socket, or a remote host's
 * socket over SSH (see ssh-docker.ts). Callers never touch dockerode directly except through `raw`.
 */
export interface DockerClient {
  readonly endpoint: string
  readonly raw: Docker
  ping(): Promise<void>
  inspectImage(ref: string): Promise<ImageInfo | undefined>
  listImages(labels: Record<string, string>): Promise<ImageInfo[]>
  /**
   * What made the image, newest first: each history entry's CreatedBy (`/bin/sh -c #(nop)  LABEL
   * k=v` for a label the builder added); undefined when the engine has no such image. Labels are
   * inherited through FROM, history is not cut: this is how an image built FROM another is told
   * apart from it (build-images.ts ownBuild).
   */
  imageHistory(ref: string): Promise<string[] | undefined>
  buildImage(opts: BuildOptions): Promise<ImageInfo>
  importImage(tar: NodeJS.ReadableStream, ref: string, changes?: string[]): Promise<void>
  tagImage(source: string, ref: string): Promise<void>
  /** certDir: the registry's CA for this machine's skopeo (a TLS site registry). */
  pushImage(ref: string, onLog?: (line: string) => void, opts?: {certDir?: string}): Promise<void>
  removeImage(ref: string, force?: boolean): Promise<void>
  /**
   * `docker exec` without a TTY; a non-zero exit is returned, not thrown (the caller decides).
   * `input` goes to its stdin: secrets travel there, never in argv (which `ps` shows on the host).
   */
  exec(container: string, argv: string[], opts?: {timeoutMs?: number; input?: string}): Promise<ContainerExecResult>
}

/** What osctl sets when it creates a container; everything else is Docker's default. */
export interface ContainerCreateOptions {
  name: string
  image: string
  /** Replaces the image's CMD; undefined keeps it. */
  command?: string[]
  env?: Record<string, string>
  labels?: Record<string, string>
  /** `volume:/path`, `/host/path:/path:ro` (Docker's -v syntax). */
  binds?: string[]
  networkMode?: string
  /** Docker's own restart policy; osctl's service containers use `no` and let systemd restart them. */
  restartPolicy?: 'no' | 'always' | 'unless-stopped' | 'on-failure'
  /** `test: ['NONE']` turns off a check the image declares; zero durations are Docker's defaults. */
  healthcheck?: {test: string[]; intervalSeconds: number; timeoutSeconds: number; retries: number; startPeriodSeconds?: number}
  /** Capabilities, devices, pid/cgroup namespaces for containers that manage the host (service.yml cap_add …). */
  privileges?: {capAdd?: string[]; devices?: string[]; deviceCgroupRules?: string[]; securityOpt?: string[]; pid?: 'host'; cgroupns?: 'host' | 'private'}
}

export interface ContainerInfo {
  id: string
  name: string
  image: string
  imageId: string
  labels: Record<string, string>
  /** created, running, exited, restarting … */
  state: string
  /** `healthy`/`unhealthy`/`starting` when the container has a Docker health check. */
  health?: string
  exitCode?: number
  startedAt?: string
  /** When its last run ended (RFC 3339, nanoseconds); absent for a container that never ran to an end. */
  finishedAt?: string
  /** Its main process on the host, while it runs (inspect only). */
  pid?: number
}

/** The container half of the engine, used by `osctl deploy` and `osctl service …`. */
export interface ContainerClient extends DockerClient {
  /** Pulls `ref` (a missing image is OsctlError IMAGE_UNKNOWN) and returns what the engine then has. */
  /** Pulls from the registry; onProgress gets the bytes downloaded so far over every layer. */
  pullImage(ref: string, opts?: {onProgress?: (p: PullProgress) => void}): Promise<ImageInfo>
  createContainer(opts: ContainerCreateOptions): Promise<string>
  inspectContainer(name: string): Promise<ContainerInfo | undefined>
  /** Containers carrying all these labels (value '' means: label present), running or not. */
  listContainers(labels: Record<string, string>): Promise<ContainerInfo[]>
  startContainer(name: string): Promise<void>
  stopContainer(name: string, timeoutSeconds?: number): Promise<void>
  /** A missing container is not an error. */
  removeContainer(name: string): Promise<void>
  renameContainer(name: string, to: string): Promise<void>
  /** Waits for the container to exit and returns its exit code. */
  waitContainer(name: string, timeoutMs?: number): Promise<number>
  /**
   * stdout and stderr interleaved as Docker stored them: every run's, or with `since` (RFC 3339, as
   * inspect's finishedAt) only what was written after that instant, i.e. a later run's.
   */
  containerLogs(name: string, tail?: number, since?: string): Promise<string>
  close?(): Promise<void>
}

export interface PullProgress {
  bytes: number
  /** Sum of the sizes of the layers announced so far (0 until the engine knows). */
  total: number
}
