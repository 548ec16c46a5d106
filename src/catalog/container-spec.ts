import {createHash} from 'node:crypto'

import type {ContainerCreateOptions} from '../docker/docker-client.js'
import {CONFIG_MOUNT, ContainerPrivileges, RenderedContainer, RenderedHealth, RenderedMonitor} from './render.js'
import {LABELS} from '../labels.js'
import {type ContainerHealthcheck, DEFAULT_CONTAINER_HEALTHCHECK} from '../site/types.js'

/** Where a container's rendered config lives on the host (bind-mounted read-only at CONFIG_MOUNT). */
export const configDir = (container: string) => `/etc/osctl/${container}`

export {LABELS}

/**
 * Everything that decides how a container runs. Its hash is the container's io.osctl.config-hash
 * label: equal hash, the container is left alone; different hash, it is recreated and specDiff
 * says why. Config files are kept as content hashes so the spec stays small in the ledger.
 */
export interface ContainerSpec {
  name: string
  service: string
  image: string
  /** The engine's image id (config digest): a re-pushed tag with new content counts as a change. */
  imageId: string
  env: Record<string, string>
  volumes: string[]
  health: RenderedHealth
  /** Docker's periodic check when it is not the gate; absent (most containers), the hash is what it always was. */
  monitor?: RenderedMonitor
  /** Only when the service asks for some: ordinary containers keep the hash they always had. */
  privileges?: ContainerPrivileges
  /** Docker's check timing or `enabled: false`, only when osctl.yml sets other than the default: a changed one recreates the container (Docker cannot change it on a running one). */
  dockerCheck?: ContainerHealthcheck
  /** File name in the config dir → sha256 of its content. */
  configs: Record<string, string>
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex')

export function desiredSpec(rc: RenderedContainer, imageId: string): ContainerSpec {
  return {
    name: rc.name,
    service: rc.service,
    image: rc.imageRef,
    imageId,
    env: sortKeys(rc.env),
    volumes: [...rc.volumes],
    health: rc.health,
    ...(rc.monitor ? {monitor: rc.monitor} : {}),
    ...(rc.privileges ? {privileges: rc.privileges} : {}),
    ...(rc.dockerCheck ? {dockerCheck: rc.dockerCheck} : {}),
    configs: sortKeys(Object.fromEntries(Object.entries(rc.files).map(([f, text]) => [f, sha(text)]))),
  }
}

/** Docker's check timing a container runs with: its own (osctl.yml's) or the default every container had before. */
export const dockerCheckOf = (spec: ContainerSpec): Readonly<ContainerHealthcheck> => spec.dockerCheck ?? DEFAULT_CONTAINER_HEALTHCHECK

/** Stable across key order: the same spec always hashes the same, whatever built it. */
export function specHash(spec: ContainerSpec): string {
  return `sha256:${sha(stableJson(hashed(spec)))}`
}

/**
 * What the hash covers of a container with a `monitor`: the check Docker runs in it, not osctl's
 * gate, which only decides when a new container counts (a gate read from the host, or a costly one
 * Docker does not repeat). It hashes as if the monitor were its health, the form the services on
 * the bus had before their gates moved to the host (2026-12-06): a change of osctl's gate alone
 * swaps no running container, and theirs kept their hash.
 */
function hashed(spec: ContainerSpec): ContainerSpec {
  if (!spec.monitor) return spec
  const {monitor, ...rest} = spec
  return {...rest, health: {kind: monitor.kind, target: monitor.target, timeoutSeconds: spec.health.timeoutSeconds}}
}

/** Which fields differ, in the words the deploy report uses: image, env, volumes, health, monitor, healthcheck, privileges, config:<file>. */
export function specDiff(before: ContainerSpec | undefined, after: ContainerSpec): string[] {
  if (!before) return ['new']
  const changed: string[] = []
  if (before.image !== after.image || before.imageId !== after.imageId) changed.push('image')
  if (stableJson(before.env) !== stableJson(after.env)) changed.push('env')
  if (stableJson(before.volumes) !== stableJson(after.volumes)) changed.push('volumes')
  if (stableJson(before.health) !== stableJson(after.health)) changed.push('health')
  if (stableJson(before.monitor ?? null) !== stableJson(after.monitor ?? null)) changed.push('monitor')
  if (stableJson(dockerCheckOf(before)) !== stableJson(dockerCheckOf(after))) changed.push('healthcheck')
  if (stableJson(before.privileges ?? {}) !== stableJson(after.privileges ?? {})) changed.push('privileges')
  const files = [...new Set([...Object.keys(before.configs), ...Object.keys(after.configs)])].sort()
  for (const f of files) if (before.configs[f] !== after.configs[f]) changed.push(`config:${f}`)
  return changed
}

/** The docker create call for a spec: host network, systemd restarts it (Docker's policy is `no`). */
export function createOptions(spec: ContainerSpec, revision: number): ContainerCreateOptions {
  return {
    name: spec.name,
    image: spec.image,
    env: spec.env,
    labels: {
      [LABELS.managed]: 'true',
      [LABELS.service]: spec.service,
      [LABELS.revision]: String(revision),
      [LABELS.configHash]: specHash(spec),
      [LABELS.image]: spec.image,
    },
    binds: [...spec.volumes, `${configDir(spec.name)}:${CONFIG_MOUNT}:ro`],
    networkMode: 'host',
    restartPolicy: 'no',
    ...(spec.privileges ? {privileges: spec.privileges} : {}),
    healthcheck: dockerHealthcheck(spec),
  }
}

/** What Docker runs in the container between deploys: its monitor or osctl's gate, at the site's timing; `NONE` when osctl.yml turns them off. */
function dockerHealthcheck(spec: ContainerSpec): NonNullable<ContainerCreateOptions['healthcheck']> {
  const t = dockerCheckOf(spec)
  if (!t.enabled) return {test: ['NONE'], intervalSeconds: 0, timeoutSeconds: 0, retries: 0}
  return {
    test: dockerHealthTest(spec.monitor ?? spec.health),
    intervalSeconds: t.intervalSeconds,
    timeoutSeconds: t.timeoutSeconds,
    retries: t.retries,
    ...(t.startPeriodSeconds ? {startPeriodSeconds: t.startPeriodSeconds} : {}),
  }
}

/** The check osctl gates on (or the container's cheaper monitor), run by Docker so `docker ps` shows it between deploys. */
function dockerHealthTest(h: RenderedMonitor | RenderedHealth): string[] {
  // catalog.ts gives a container whose gate is read from the host a monitor of its own.
  if (h.kind === 'connected') throw new Error(`a connected check (${h.target}) cannot run in the container: it needs a monitor`)
  if (h.kind === 'http') return ['CMD', 'healthcheck_curl', h.target]
  if (h.kind === 'exec') return ['CMD-SHELL', h.target]
  return ['CMD', 'healthcheck_port', h.target.slice(h.target.lastIndexOf(':') + 1)]
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)))
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`
  }
  return JSON.stringify(v)
}
