import {SshDockerClient} from '../docker/ssh-docker.js'
import {hostsFor, sshTarget} from '../hosts/connect.js'
import {TEMPLATES_DIR} from '../paths.js'
import {loadSite} from '../site/load-site.js'
import {selectHosts} from '../site/select-hosts.js'
import type {Site, SiteHost} from '../site/types.js'
import {Catalog, loadCatalog} from '../catalog/catalog.js'
import type {DeployDeps} from '../apply/deploy.js'
import {Overrides} from '../catalog/overrides.js'

export interface DeployContext {
  site: Site
  catalog: Catalog
  overrides: Overrides
  targets: SiteHost[]
  deps: DeployDeps
}

/** Site, catalog and overrides loaded and validated, hosts selected; nothing is connected yet. */
export async function deployContext(flags: {site: string; limit?: string}): Promise<DeployContext> {
  const site = await loadSite(flags.site)
  const targets = selectHosts(site, flags.limit)
  const catalog = await loadCatalog(process.env.OSCTL_TEMPLATES_DIR || TEMPLATES_DIR)
  const overrides = await Overrides.load(site.overridesDir)
  return {site, catalog, overrides, targets, deps: productionDeps(site)}
}

/** SSH to each host; Docker through the same target (its socket forwarded over SSH). */
export function productionDeps(site: Site): DeployDeps {
  return {
    connect: (hosts) => hostsFor(site, hosts),
    docker: (h) => new SshDockerClient(sshTarget(site, h)),
  }
}
