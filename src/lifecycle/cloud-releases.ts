import {OsctlError} from '../errors.js'
import {LABELS} from '../labels.js'
import type {DeployPlan} from '../catalog/plan.js'
import {registryImageLabels} from '../images/registry-labels.js'
import type {HostSession} from '../session/host-session.js'
import type {Site, SiteHost} from '../site/types.js'
import {ReleaseStep, checkReleaseStep, describeRelease, releaseVersion} from './releases.js'

/** The label every osctl image inherits from images/base. */
export const RELEASE_LABEL = LABELS.openstackRelease

export type ReadLabels = (site: Site, image: string, tag: string) => Promise<Record<string, string> | undefined>

export interface ReleaseCheck {
  from: string[]
  to: string
  step: ReleaseStep
}

/**
 * Which release the new tag's images are and which the hosts run now, and whether that step is
 * allowed (releases.ts). Read before anything changes: the new images' labels from the registry
 * (or, when this machine cannot reach it, from one pull on the first target), the running ones
 * from the images of each target's service containers. Refusals are usage errors (exit 2).
 */
export async function checkCloudRelease(
  site: Site,
  plan: DeployPlan,
  targets: SiteHost[],
  session: HostSession,
  readLabels: ReadLabels = registryImageLabels,
): Promise<ReleaseCheck> {
  const tag = site.config.imageTag
  const images = new Map<string, string>()
  for (const s of plan.services) for (const r of s.rendered.values()) for (const c of r.containers) images.set(c.image, c.imageRef)
  const byRelease = new Map<string, string[]>()
  for (const [image, ref] of images) {
    let labels = await readLabels(site, image, tag)
    if (!labels && targets[0]) {
      const docker = session.docker(targets[0])
      await docker.pullImage(ref)
      labels = (await docker.inspectImage(ref))?.labels
    }
    const release = labels?.[RELEASE_LABEL]
    if (!release) throw new OsctlError('USAGE', `image ${image}:${tag} carries no ${RELEASE_LABEL} label`, {hint: 'build it with `osctl image build` (every osctl image inherits the label from images/base)'})
    byRelease.set(release, [...(byRelease.get(release) ?? []), image])
  }
  if (byRelease.size > 1) {
    throw new OsctlError('USAGE', `the images of tag ${tag} mix releases: ${[...byRelease].map(([r, is]) => `${describeRelease(r)}: ${is.join(', ')}`).join('; ')}`, {
      hint: 'build the whole set for one release (`osctl image build --push --tag T` after setting openstack_release)',
    })
  }
  const to = [...byRelease.keys()][0]
  const from = await runningReleases(targets, session)
  let step: ReleaseStep = 'same'
  for (const f of from) {
    const s = checkReleaseStep(f, to)
    if (s !== 'same') step = s
  }
  if (site.config.openstackRelease && releaseVersion(site.config.openstackRelease)?.version !== releaseVersion(to)?.version) {
    throw new OsctlError('USAGE', `the images of tag ${tag} are ${describeRelease(to)}, but osctl.yml says openstack_release: ${site.config.openstackRelease}`, {
      location: `${site.dir}/osctl.yml`,
      hint: `set openstack_release: ${to} in osctl.yml first: configs are rendered for the site's release`,
    })
  }
  return {from, to, step}
}

/** The releases the targets' service containers run now (several while an upgrade is half done). */
async function runningReleases(targets: SiteHost[], session: HostSession): Promise<string[]> {
  const found = new Set<string>()
  await Promise.all(
    targets.map(async (t) => {
      const docker = session.docker(t)
      const ids = new Set((await docker.listContainers({[LABELS.service]: ''})).map((c) => c.imageId))
      for (const id of ids) {
        const release = (await docker.inspectImage(id))?.labels[RELEASE_LABEL]
        if (release) found.add(release)
      }
    }),
  )
  return [...found].sort()
}
