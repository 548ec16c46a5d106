import type {SiteConfig, SiteHost} from '../site/types.js'
import type {Host} from './host.js'
import type {SshTarget} from './ssh-connect.js'
import {SshHost} from './ssh-host.js'

/**
 * One SshHost per inventory host. Nothing connects yet: each host opens its single SSH connection on
 * first use, so building hosts for a whole site is free and a dead host only fails its own work.
 */
type SshSite = {config: Pick<SiteConfig, 'sshKnownHosts' | 'sshHostKeyPolicy'>}

export function hostsFor(site: SshSite, hosts: SiteHost[]): Host[] {
  return hosts.map((h) => new SshHost(sshTarget(site, h)))
}

/** How osctl reaches an inventory host over SSH: its address and login, the site's host key policy. */
export function sshTarget(site: SshSite, h: SiteHost): SshTarget {
  return {
    name: h.name,
    address: h.address,
    port: h.ssh.port,
    user: h.ssh.user,
    keyFile: h.ssh.keyFile,
    knownHostsFile: site.config.sshKnownHosts,
    hostKeyPolicy: site.config.sshHostKeyPolicy,
  }
}

/** Closes every connection, even when some hosts fail to close cleanly. */
export async function closeAll(hosts: Host[]): Promise<void> {
  await Promise.allSettled(hosts.map((h) => h.close()))
}
