import type {ContainerClient} from '../docker/types.js'
import {SshDockerClient} from '../docker/ssh-docker.js'
import {sshTarget} from '../hosts/connect.js'
import type {Host} from '../hosts/host.js'
import {SshHost} from '../hosts/ssh-host.js'
import type {Site, SiteHost} from '../site/types.js'

/** How a session reaches a host and its engine; SSH in production, fakes in unit tests. */
export interface HostDrivers {
  host(h: SiteHost): Host
  docker(h: SiteHost, host: Host): ContainerClient
}

/**
 * Every host a command talks to, and its Docker engine, opened once on first use and shared by
 * every phase of the command (plan, pulls, snapshots, deploy, restore), then closed once by the
 * command. A host's engine goes over that host's own SSH connection.
 */
export class HostSession {
  private readonly hosts = new Map<string, Host>()
  private readonly dockers = new Map<string, ContainerClient>()
  private closed = false

  constructor(private readonly drivers: HostDrivers) {}

  host(h: SiteHost): Host {
    this.assertOpen()
    let host = this.hosts.get(h.name)
    if (!host) this.hosts.set(h.name, (host = this.drivers.host(h)))
    return host
  }

  hostsFor(list: SiteHost[]): Host[] {
    return list.map((h) => this.host(h))
  }

  docker(h: SiteHost): ContainerClient {
    this.assertOpen()
    let docker = this.dockers.get(h.name)
    if (!docker) this.dockers.set(h.name, (docker = this.drivers.docker(h, this.host(h))))
    return docker
  }

  /** Engines first (their channels ride on the hosts' connections), then the hosts. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.dockers.values()].map((d) => d.close?.()))
    await Promise.allSettled([...this.hosts.values()].map((h) => h.close()))
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('osctl bug: host session used after close')
  }
}

/** Production: SSH to each host (the site's key and host-key policy), Docker over that connection. */
export function sshSession(site: Site): HostSession {
  return new HostSession({
    host: (h) => new SshHost(sshTarget(site, h)),
    docker: (_h, host) => new SshDockerClient(host as SshHost),
  })
}
