import {contextFor, requireSystemContainer} from '../bootstrap/system-context.js'
import {OsctlError} from '../errors.js'
import {Host} from '../hosts/host.js'
import {Site, SiteHost} from '../site/types.js'
import {SystemContainerDef, SystemContext} from './definitions.js'
import {siteContext} from '../session/site-context.js'

export interface SystemTarget {
  def: SystemContainerDef
  siteHost: SiteHost
  host: Host
  ctx: SystemContext
}

/** The hosts (within --limit) that run system container NAME, connected; validated before any SSH. */
export async function systemTargets(flags: {site: string; limit?: string}, name: string): Promise<{site: Site; targets: SystemTarget[]; close(): Promise<void>}> {
  const def = requireSystemContainer(name)
  const {site, targets, session} = await siteContext(flags)
  const runs = targets.filter((t) => t.groups.includes(def.group))
  if (runs.length === 0) {
    throw new OsctlError('USAGE', `no selected host runs ${name} (it runs on group ${def.group})`, {
      location: flags.limit ? '--limit' : site.files.inventory,
      hint: `Hosts in ${def.group}: ${site.groups[def.group]?.join(', ') || 'none'}.`,
    })
  }
  const hosts = session.hostsFor(runs)
  return {
    site,
    targets: runs.map((siteHost, i) => ({def, siteHost, host: hosts[i], ctx: contextFor(site, siteHost, def)})),
    close: () => session.close(),
  }
}
