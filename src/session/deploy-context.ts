import {Catalog, loadCatalog} from '../catalog/catalog.js'
import {checkOverrides} from '../catalog/override-checks.js'
import {Overrides} from '../catalog/overrides.js'
import {OsctlErrors} from '../errors.js'
import {TEMPLATES_DIR} from '../paths.js'
import {loadSite} from '../site/load-site.js'
import {selectHosts} from '../site/select-hosts.js'
import type {Site, SiteHost} from '../site/types.js'
import type {HostSession} from './host-session.js'

/** What deploy reads from the site dir and the catalog: everything checkable without a host. */
export interface SiteInputs {
  site: Site
  catalog: Catalog
  overrides: Overrides
  /** Hosts this run works on (--limit). */
  targets: SiteHost[]
}

export interface DeployContext extends SiteInputs {
  /** Hosts and engines, opened on first use, closed once by the command. */
  session: HostSession
}

/** Site, catalog and overrides loaded and validated, hosts selected; no host session at all (config generate/validate). */
export async function siteInputs(flags: {site: string; limit?: string}): Promise<SiteInputs> {
  const site = await loadSite(flags.site, {forHosts: true})
  const targets = selectHosts(site, flags.limit)
  const catalog = await loadCatalog(process.env.OSCTL_TEMPLATES_DIR || TEMPLATES_DIR)
  const overrides = await Overrides.load(site.overridesDir)
  const problems = checkOverrides(overrides, site, catalog)
  if (problems.length > 0) throw new OsctlErrors(problems)
  return {site, catalog, overrides, targets}
}

/** Site, catalog and overrides loaded and validated, hosts selected; nothing is connected yet. */
export async function deployContext(flags: {site: string; limit?: string}): Promise<DeployContext> {
  const inputs = await siteInputs(flags)
  // ssh2 and dockerode load only for commands that reach hosts: `config validate` starts without them.
  const {sshSession} = await import('./host-session.js')
  return {...inputs, session: sshSession(inputs.site)}
}
