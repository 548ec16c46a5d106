import {createHash} from 'node:crypto'

import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError} from '../errors.js'
import {tailLines} from '../hosts/host.js'
import {ContainerSpec, LABELS, configDir, specHash} from '../catalog/container-spec.js'
import {CONFIG_MOUNT, RenderedService, RenderedStep} from '../catalog/render.js'
import type {Ledger} from '../revisions/ledger.js'
import type {ObservedService} from './observe.js'

/**
 * A step runs again only when what it acts on changed: the image (new code, maybe new migrations),
 * the container's config (e.g. a new database URL), or the step itself. With `imagePaths` only
 * those paths of the image count (their fingerprint), not its id or tag: an upgrade to an image
 * with the same migrations runs no db sync.
 */
export function stepKey(rendered: RenderedStep, spec: ContainerSpec, fingerprints: Record<string, string> = {}): string {
  const sha = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex')
  // When it runs (`beside`) is not what it does: not part of the key.
  const {beside: _when, ...step} = rendered
  // Nor how often Docker checks the container between deploys (osctl.yml's healthcheck timing).
  const {dockerCheck: _check, ...ran} = spec
  if (!step.imagePaths) return sha({image: ran.imageId, spec: specHash(ran), step})
  const image = step.imagePaths.length === 0 ? '' : (fingerprints[fingerprintKey(ran.imageId, step.imagePaths)] ?? `unread:${ran.imageId}`)
  return sha({image, spec: specHash({...ran, image: '', imageId: ''}), step})
}

/** Where a fingerprint of some paths of an image is cached (the ledger's fingerprints.json). */
export const fingerprintKey = (imageId: string, paths: string[]) => `${imageId} ${paths.join(' ')}`

/**
 * For each set of paths, sha256 over every file (path and content) under them, all read by one
 * one-shot container of the image (one container start however many sets: keystone's steps have
 * two). A path the image does not have is an error: a typo must not stop migrations forever.
 */
export async function readImageFingerprints(docker: ContainerClient, image: string, sets: string[][], container: string, where: string): Promise<string[]> {
  const name = `osctl-fingerprint-${container}`
  const script = 'for s in "$@"; do for p in $s; do [ -e "$p" ] || { echo "missing: $p"; exit 3; }; done; done; for s in "$@"; do h=$(find $s -type f | LC_ALL=C sort | xargs -r sha256sum | sha256sum) || exit 1; echo "${h%% *}  $s"; done'
  const args = sets.map((paths) => paths.join(' '))
  await docker.removeContainer(name)
  await docker.createContainer({name, image, command: ['sh', '-c', script, 'osctl-fingerprint', ...args], labels: {[LABELS.managed]: 'true'}, networkMode: 'none', restartPolicy: 'no'})
  try {
    await docker.startContainer(name)
    const code = await docker.waitContainer(name, 120_000)
    const out = (await docker.containerLogs(name, sets.length + 5)).trim()
    const found = new Map([...out.matchAll(/^([0-9a-f]{64}) {2}(.*)$/gm)].map((m) => [m[2], `sha256:${m[1]}`]))
    if (code !== 0 || args.some((a) => !found.has(a))) {
      throw new OsctlError('CONFIG_INVALID', `${where}: cannot read ${sets.flat().join(', ')} in ${image}: ${out.split('\n').at(-1) || `exit ${code}`}`, {
        hint: 'image_paths of a bootstrap step in service.yml must exist in its container\'s image',
      })
    }
    return args.map((a) => found.get(a)!)
  } finally {
    await docker.removeContainer(name).catch(() => undefined)
  }
}

export const stepContainerName = (container: string, step: string) => `osctl-bootstrap-${container}-${step}`

/**
 * One-shot container from the service image with the service's volumes and config mount;
 * osctl_start runs the step's manifest (bootstrap/<step>/config.json) because OSCTL_BOOTSTRAP is
 * set. Removed afterwards whatever happened; its log tail is kept in the error. Returns its run time
 * in ms, from its start to its exit (the step's own work, not creating and removing it).
 */
export async function runBootstrapStep(docker: ContainerClient, spec: ContainerSpec, step: RenderedStep, where: string, timeoutMs = 900_000): Promise<number> {
  const name = stepContainerName(spec.name, step.name)
  await docker.removeContainer(name)
  await docker.createContainer({
    name,
    image: spec.image,
    env: {...spec.env, ...step.env, OSCTL_BOOTSTRAP: '1', OSCTL_CONFIG_DIR: `${CONFIG_MOUNT}/bootstrap/${step.name}`},
    labels: {[LABELS.managed]: 'true', [LABELS.service]: spec.service, [LABELS.bootstrap]: step.name},
    binds: [...spec.volumes, `${configDir(spec.name)}:${CONFIG_MOUNT}:ro`],
    networkMode: 'host',
    restartPolicy: 'no',
  })
  try {
    const started = performance.now()
    await docker.startContainer(name)
    const code = await docker.waitContainer(name, timeoutMs)
    const ms = performance.now() - started
    if (code !== 0) {
      const logs = tailLines(await docker.containerLogs(name, 40), 20)
      throw new OsctlError('COMMAND_FAILED', `${where}: bootstrap step ${step.name} of ${spec.service} exited with ${code}`, {
        details: logs,
        hint: `the step ran in container ${name} from ${spec.image}; its last log lines are above`,
      })
    }
    return ms
  } finally {
    await docker.removeContainer(name).catch(() => undefined)
  }
}

/** Image paths the steps about to be decided depend on: read once per image, then cached in the ledger. */
/** The image fingerprints the service's bootstrap steps need that the ledger has not cached, by key. */
export function missingFingerprints(rs: RenderedService, seen: ObservedService, runOnce: boolean): Map<string, {image: string; paths: string[]; container: string}> {
  const missing = new Map<string, {image: string; paths: string[]; container: string}>()
  for (const step of rs.steps.filter((s) => (!s.once || runOnce) && s.imagePaths?.length)) {
    const c = rs.containers.find((x) => x.name === step.container)
    const imageId = seen.containers.get(step.container)?.imageId
    const key = imageId && fingerprintKey(imageId, step.imagePaths!)
    if (c && key && !(key in seen.fingerprints)) missing.set(key, {image: c.imageRef, paths: step.imagePaths!, container: c.name})
  }
  return missing
}

export async function readFingerprints(docker: ContainerClient, ledger: Ledger, rs: RenderedService, seen: ObservedService, runOnce: boolean, where: string): Promise<void> {
  const missing = missingFingerprints(rs, seen, runOnce)
  if (missing.size === 0) return
  // One container per image, reading all of its path sets.
  const byImage = new Map<string, {container: string; keys: string[]; sets: string[][]}>()
  for (const [key, m] of missing) {
    const g = byImage.get(m.image) ?? {container: m.container, keys: [], sets: []}
    g.keys.push(key)
    g.sets.push(m.paths)
    byImage.set(m.image, g)
  }
  for (const [image, g] of byImage) {
    const fps = await readImageFingerprints(docker, image, g.sets, g.container, where)
    g.keys.forEach((key, i) => (seen.fingerprints[key] = fps[i]))
  }
  // Only the images wanted or running stay cached.
  const ids = new Set([...seen.containers.values()].flatMap((c) => [c.imageId, c.actual?.imageId]))
  await ledger.setFingerprints(rs.service, Object.fromEntries(Object.entries(seen.fingerprints).filter(([k]) => ids.has(k.split(' ')[0]))))
}
