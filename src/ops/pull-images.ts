import type {DeployPlan} from '../catalog/plan.js'
import type {Reporter} from '../events/reporters.js'
import {HostResult, fanOut} from '../hosts/fan-out.js'
import {takeLock} from '../revisions/host-locks.js'
import type {HostSession} from '../session/host-session.js'
import type {Site, SiteHost} from '../site/types.js'

export interface PulledImage {
  ref: string
  /** The engine's image id after the pull. */
  id: string
  /** pulled: the host did not have it; updated: the tag now names other content; present: already there, unchanged. */
  status: 'pulled' | 'updated' | 'present'
  /** Services whose containers run it on this host. */
  services: string[]
}

/** Every image a deploy of the plan would run on each target host: the refs of its rendered containers. */
export function imagesByHost(plan: DeployPlan): Map<string, Map<string, string[]>> {
  const byHost = new Map<string, Map<string, string[]>>()
  for (const ps of plan.services) {
    for (const [host, rs] of ps.rendered) {
      const refs = byHost.get(host) ?? new Map<string, string[]>()
      byHost.set(host, refs)
      for (const c of rs.containers) refs.set(c.imageRef, [...new Set([...(refs.get(c.imageRef) ?? []), ps.def.name])])
    }
  }
  return byHost
}

/**
 * `osctl pull`: every image the plan's containers run, pulled on every host that would run it
 * (hosts in parallel, bounded by ssh_concurrency; images one after another per host), under the
 * host's pull lock so `image prune` cannot remove one meanwhile. Idempotent: a second run reports
 * every image present. Nothing else changes on the host.
 */
export async function pullImages(site: Site, plan: DeployPlan, targets: SiteHost[], session: HostSession, reporter: Reporter): Promise<Array<HostResult<PulledImage[]>>> {
  const wanted = imagesByHost(plan)
  const hosts = targets.filter((t) => wanted.has(t.name))
  return fanOut(hosts, site.config.sshConcurrency, async (t) => {
    const docker = session.docker(t)
    const release = await takeLock(session.host(t), 'pull', 'pull')
    try {
      const pulled: PulledImage[] = []
      for (const [ref, services] of wanted.get(t.name)!) {
        const before = await docker.inspectImage(ref)
        const image = await docker.pullImage(ref, {onProgress: (p) => reporter.emit('image.pull.progress', {ref, ...p}, t.name)})
        pulled.push({ref, id: image.id, status: !before ? 'pulled' : before.id === image.id ? 'present' : 'updated', services})
      }
      return pulled
    } finally {
      await release()
    }
  })
}
