import {createHash} from 'node:crypto'

import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError} from '../errors.js'
import {tailLines} from '../hosts/host.js'
import {ContainerSpec, LABELS, configDir, specHash} from '../catalog/container-spec.js'
import {CONFIG_MOUNT, RenderedStep} from '../catalog/render.js'

/**
 * A step runs again only when what it acts on changed: the image (new code, maybe new migrations),
 * the container's config (e.g. a new database URL), or the step itself.
 */
export function stepKey(step: RenderedStep, spec: ContainerSpec): string {
  return createHash('sha256').update(JSON.stringify({image: spec.imageId, spec: specHash(spec), step})).digest('hex')
}

export const stepContainerName = (container: string, step: string) => `osctl-bootstrap-${container}-${step}`

/**
 * One-shot container from the service image with the service's volumes and config mount;
 * osctl_start runs the step's manifest (bootstrap/<step>/config.json) because OSCTL_BOOTSTRAP is
 * set. Removed afterwards whatever happened; its log tail is kept in the error.
 */
export async function runBootstrapStep(docker: ContainerClient, spec: ContainerSpec, step: RenderedStep, where: string, timeoutMs = 900_000): Promise<void> {
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
    await docker.startContainer(name)
    const code = await docker.waitContainer(name, timeoutMs)
    if (code !== 0) {
      const logs = tailLines(await docker.containerLogs(name, 40), 20)
      throw new OsctlError('COMMAND_FAILED', `${where}: bootstrap step ${step.name} of ${spec.service} exited with ${code}`, {
        details: logs,
        hint: `the step ran in container ${name} from ${spec.image}; its last log lines are above`,
      })
    }
  } finally {
    await docker.removeContainer(name).catch(() => undefined)
  }
}
