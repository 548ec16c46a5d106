import {loadSite} from '../site/load-site.js'
import {selectHosts} from '../site/select-hosts.js'
import {Site, SiteHost} from '../site/types.js'
import {HostSession, sshSession} from './host-session.js'

export interface SiteContext {
  site: Site
  targets: SiteHost[]
  session: HostSession
}

/** Load and validate everything before touching any host: bad input changes nothing anywhere. */
export async function siteContext(flags: {site: string; limit?: string}): Promise<SiteContext> {
  const site = await loadSite(flags.site, {forHosts: true})
  const targets = selectHosts(site, flags.limit)
  return {site, targets, session: sshSession(site)}
}
