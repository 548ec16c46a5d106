import type {ContainerClient, ContainerInfo, ImageInfo} from '../docker/docker-client.js'
import {DockerodeClient} from '../docker/docker-client.js'
import {errorMessage} from '../errors.js'
import {fanOut} from '../hosts/fan-out.js'
import type {Host} from '../hosts/host.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {imagePrefix} from '../site/image-ref.js'
import type {Site} from '../site/types.js'
import type {DeployContext} from '../session/deploy-context.js'
import {takeLock} from '../revisions/host-locks.js'
import {Ledger, RevisionRecord, SERVICES_ROOT, listRevisions} from '../revisions/ledger.js'

/** How many of each service's newest revisions keep their images on a host (`image prune --keep`). */
export const KEEP_REVISIONS = 3

/** Why an image stays on a host. */
export type KeepReason =
  | {kind: 'revision'; service: string; revision: number; current: boolean}
  | {kind: 'container'; container: string; state: string}
  /** The image is osctl's but also carries a tag outside the site namespace: someone else uses it. */
  | {kind: 'foreign-tag'; ref: string}

export interface ServiceRevisions {
  service: string
  current?: number
  revisions: Array<Pick<RevisionRecord, 'revision' | 'containers'>>
}

/** An image as the engine lists it; digests are the `repo@sha256:…` references pulled images keep. */
export interface EngineImage {
  id: string
  tags: string[]
  digests: string[]
  /** Docker's size: every layer of the image, shared ones included. */
  size: number
  /** Bytes of layers no other image shares (what removing this image alone frees). */
  unique: number
}

export interface KeptImage extends EngineImage {
  reasons: KeepReason[]
}

export interface SkippedImage extends EngineImage {
  reason: string
}

export interface PrunePlan {
  kept: KeptImage[]
  remove: EngineImage[]
  /** Images with no reference in the site namespace: never touched, only counted. */
  foreign: number
}

export interface HostPrune {
  host: string
  kept: KeptImage[]
  /** Removed, or with dryRun the ones that would be. */
  removed: EngineImage[]
  /** Docker refused to remove them (in use, dependent child images …): not an error. */
  skipped: SkippedImage[]
  /** Removal failed for another reason. */
  failed: SkippedImage[]
  foreign: number
  /**
   * Disk space freed: the engine's layer usage before minus after. With dryRun (or an engine that
   * cannot tell) the bytes only the removed images hold: layers they share with kept images stay.
   */
  freedBytes: number
}

export interface PruneResult {
  keep: number
  dryRun: boolean
  hosts: Array<HostPrune | {host: string; error: string; exitCode: number}>
  freedBytes: number
}

/** `registry/namespace/`: every image reference osctl deploys starts with it (see imageRefFor). */
export function siteImagePrefix(site: Pick<Site, 'config'>): string {
  return imagePrefix(site.config)
}

/**
 * Image id → why it must stay: the images of each service's `keep` newest revisions (by number),
 * of its current revision even when older (after a rollback), and of every existing container.
 */
export function keepSet(services: ServiceRevisions[], containers: Array<Pick<ContainerInfo, 'name' | 'imageId' | 'state'>>, keep: number): Map<string, KeepReason[]> {
  const keepers = new Map<string, KeepReason[]>()
  const add = (id: string, reason: KeepReason) => {
    if (!id) return
    const list = keepers.get(id) ?? []
    if (!list.some((r) => JSON.stringify(r) === JSON.stringify(reason))) list.push(reason)
    keepers.set(id, list)
  }
  for (const s of services) {
    const newest = [...s.revisions].sort((a, b) => b.revision - a.revision).slice(0, Math.max(0, keep))
    const kept = [...newest, ...s.revisions.filter((r) => r.revision === s.current && !newest.includes(r))]
    for (const r of kept) {
      for (const c of r.containers) add(c.imageId, {kind: 'revision', service: s.service, revision: r.revision, current: r.revision === s.current})
    }
  }
  for (const c of containers) add(c.imageId, {kind: 'container', container: c.name, state: c.state})
  return keepers
}

/** Splits the engine's images into kept, to remove and foreign; nothing outside `prefix` is ever a candidate. */
export function planPrune(images: EngineImage[], keepers: Map<string, KeepReason[]>, prefix: string): PrunePlan {
  const plan: PrunePlan = {kept: [], remove: [], foreign: 0}
  for (const image of mergeById(images)) {
    const refs = [...image.tags, ...image.digests]
    if (!refs.some((r) => r.startsWith(prefix))) {
      plan.foreign++
      continue
    }
    const reasons = keepers.get(image.id) ?? image.tags.filter((t) => !t.startsWith(prefix)).map((ref): KeepReason => ({kind: 'foreign-tag', ref}))
    if (reasons.length > 0) plan.kept.push({...image, reasons})
    else plan.remove.push(image)
  }
  return plan
}

/** One line per reason, for the text output. */
export function describeReason(r: KeepReason): string {
  if (r.kind === 'revision') return `revision ${r.revision} of ${r.service}${r.current ? ' (current)' : ''}`
  if (r.kind === 'container') return `container ${r.container} (${r.state})`
  return `also tagged ${r.ref}`
}

function mergeById(images: EngineImage[]): EngineImage[] {
  const byId = new Map<string, EngineImage>()
  for (const i of images) {
    const seen = byId.get(i.id)
    byId.set(i.id, seen ? {...seen, tags: [...new Set([...seen.tags, ...i.tags])], digests: [...new Set([...seen.digests, ...i.digests])], size: Math.max(seen.size, i.size), unique: Math.max(seen.unique, i.unique)} : i)
  }
  return [...byId.values()]
}

/** Every image in the engine, and the bytes its layers take on disk when the client can tell. */
export async function engineImages(docker: ContainerClient): Promise<{images: EngineImage[]; layersBytes?: number}> {
  const real = (t: string) => t !== '<none>:<none>' && t !== '<none>@<none>'
  // ImageInfo has neither RepoDigests (an image whose tag moved on keeps only its digest reference)
  // nor shared sizes: the real engine's /system/df has both, in one cheap call.
  if (docker instanceof DockerodeClient) {
    const df = (await docker.raw.df()) as {LayersSize?: number; Images?: Array<{Id: string; RepoTags?: string[] | null; RepoDigests?: string[] | null; Size: number; SharedSize: number}>}
    const images = (df.Images ?? []).map((i) => ({
      id: i.Id,
      tags: (i.RepoTags ?? []).filter(real),
      digests: (i.RepoDigests ?? []).filter(real),
      size: i.Size,
      unique: i.SharedSize >= 0 ? i.Size - i.SharedSize : i.Size,
    }))
    return {images, layersBytes: df.LayersSize}
  }
  const images = (await docker.listImages({})).map((i: ImageInfo) => ({id: i.id, tags: i.tags.filter(real), digests: [], size: i.size, unique: i.size}))
  return {images}
}

/** Services with a ledger on the host, and their revisions. */
export async function readLedgers(host: Host): Promise<ServiceRevisions[]> {
  const r = await host.exec(['sh', '-c', 'ls -1 "$1" 2>/dev/null || true', 'osctl', SERVICES_ROOT])
  const names = r.stdout.split('\n').map((s) => s.trim()).filter((s) => s && !s.includes('/'))
  const ledger = new Ledger(host)
  return Promise.all(names.map(async (service) => ({service, current: await ledger.currentNumber(service), revisions: await listRevisions(host, service)})))
}

/**
 * One host: reads every ledger and container first (a read error leaves the host untouched), then
 * removes the candidates by image id without force. Docker refusing one (a container started
 * meanwhile, a child image) is reported as skipped.
 */
export async function pruneHost(host: Host, docker: ContainerClient, opts: {keep: number; dryRun: boolean; prefix: string; reporter?: Reporter}): Promise<HostPrune> {
  const reporter = opts.reporter ?? silentReporter
  const services = await readLedgers(host)
  const containers = await docker.listContainers({})
  const before = await engineImages(docker)
  const plan = planPrune(before.images, keepSet(services, containers, opts.keep), opts.prefix)
  const result: HostPrune = {host: host.name, kept: plan.kept, removed: [], skipped: [], failed: [], foreign: plan.foreign, freedBytes: 0}
  for (const image of plan.remove) {
    const name = image.tags[0] ?? image.digests[0] ?? image.id
    if (opts.dryRun) {
      result.removed.push(image)
      reporter.emit('image.prune.planned', {image: name}, host.name)
      continue
    }
    try {
      await docker.removeImage(image.id)
      result.removed.push(image)
      reporter.emit('image.prune.removed', {image: name}, host.name)
    } catch (err) {
      const reason = errorMessage(err).replace(/^\(HTTP code \d+\) [a-z ]+- /, '').split('\n')[0]
      const refused = (err as {statusCode?: number}).statusCode === 409
      ;(refused ? result.skipped : result.failed).push({...image, reason})
      reporter.emit(refused ? 'image.prune.kept' : 'image.prune.failed', refused ? {image: name, reason} : {image: name, error: reason}, host.name)
    }
  }
  const estimate = result.removed.reduce((n, i) => n + i.unique, 0)
  const after = !opts.dryRun && before.layersBytes !== undefined && result.removed.length > 0 ? (await engineImages(docker)).layersBytes : undefined
  result.freedBytes = before.layersBytes !== undefined && after !== undefined ? Math.max(0, before.layersBytes - after) : estimate
  return result
}

/** `osctl image prune` on every target host, in parallel (bounded by sshConcurrency). */
export async function pruneImages(ctx: Pick<DeployContext, 'site' | 'targets' | 'session'>, opts: {keep: number; dryRun: boolean; reporter?: Reporter}): Promise<PruneResult> {
  const prefix = siteImagePrefix(ctx.site)
  const results = await fanOut(ctx.targets, ctx.site.config.sshConcurrency, async (t) => {
    const host = ctx.session.host(t)
    // A dry run removes nothing: it needs no lock.
    const release = opts.dryRun ? async () => {} : await takeLock(host, 'prune', 'prune images')
    try {
      return await pruneHost(host, ctx.session.docker(t), {...opts, prefix})
    } finally {
      await release()
    }
  })
  const hosts = results.map((r) => r.value ?? {host: r.host, error: r.error!.headline, exitCode: r.error!.exitCode})
  return {keep: opts.keep, dryRun: opts.dryRun, hosts, freedBytes: results.reduce((n, r) => n + (r.value?.freedBytes ?? 0), 0)}
}
