import {isIP} from 'node:net'

import type {Catalog} from '../catalog/catalog.js'
import {groupHosts} from '../catalog/group-hosts.js'
import {PrecheckResult, ownedSystemPorts, runPrechecks, runSiteChecks} from '../bootstrap/prechecks.js'
import {registryHost, systemContainersFor} from '../bootstrap/system-context.js'
import {ExitCode, OsctlError} from '../errors.js'
import {HostResult, fanOut} from '../hosts/fan-out.js'
import type {Host} from '../hosts/host.js'
import {LABELS} from '../labels.js'
import type {HostSession} from '../session/host-session.js'
import type {Site, SiteHost} from '../site/types.js'

export interface HostPrechecks {
  checks: PrecheckResult[]
  /** Ports checked: those of the system containers and enabled services this host runs. */
  ports: number[]
}

/** TCP ports a host needs: its system containers' and those of every enabled service its groups run (service.yml `ports`). */
export function portsFor(site: Site, catalog: Catalog, host: SiteHost): {system: number[]; services: Map<string, number[]>} {
  const services = new Map<string, number[]>()
  for (const def of catalog.services) {
    if (!site.config.enabledServices.includes(def.name)) continue
    if (!groupHosts(site, def).some((h) => h.name === host.name)) continue
    for (const c of def.containers) if (c.ports.length) services.set(c.name, c.ports)
  }
  return {system: systemContainersFor(site, host).flatMap((d) => d.ports), services}
}

/**
 * `osctl prechecks`: bootstrap's checks (systemd, kernel version, cgroups, disk, ports) with the
 * ports of the enabled services too, then time sync, kernel features, name resolution and the
 * inventory address; on every target host in parallel. A port held by osctl's own running system
 * container or service container (label io.osctl.managed) is not a conflict. Changes nothing.
 */
export async function prechecks(site: Site, catalog: Catalog, targets: SiteHost[], session: HostSession): Promise<Array<HostResult<HostPrechecks>>> {
  const registry = registryHost(site)
  const names = isIP(registry.replace(/^\[|\]$/g, '')) ? [] : [registry]
  return fanOut(targets, site.config.sshConcurrency, async (t) => {
    const host = session.host(t)
    const wanted = portsFor(site, catalog, t)
    const ports = [...new Set([...wanted.system, ...[...wanted.services.values()].flat()])].sort((a, b) => a - b)
    const running = await runningServiceContainers(host)
    const owned = [...(await ownedSystemPorts(host, systemContainersFor(site, t))), ...[...wanted.services].filter(([c]) => running.has(c)).flatMap(([, p]) => p)]
    const checks = [...(await runPrechecks(host, ports, owned)), ...(await runSiteChecks(host, {address: t.address, names}))]
    return {checks, ports}
  })
}

/** Names of osctl's running service containers; none when Docker is not there yet (before bootstrap). */
async function runningServiceContainers(host: Host): Promise<Set<string>> {
  const r = await host.exec(['docker', 'ps', '--filter', `label=${LABELS.managed}=true`, '--format', '{{.Names}}'])
  return new Set(r.exitCode === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [])
}

/** A host whose checks ran but did not all pass. */
export function failedChecks(host: string, checks: PrecheckResult[]): OsctlError | undefined {
  const failed = checks.filter((c) => !c.ok)
  if (failed.length === 0) return undefined
  return new OsctlError('COMMAND_FAILED', `${host}: prechecks failed: ${failed.map((f) => `${f.check} (${f.detail})`).join('; ')}`, {
    exitCode: ExitCode.PARTIAL,
    hint: 'fix the host (nothing was changed on it), then run `osctl prechecks` again',
  })
}
