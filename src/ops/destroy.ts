import type {Catalog} from '../catalog/catalog.js'
import {configDir} from '../catalog/container-spec.js'
import {LABELS} from '../catalog/container-spec.js'
import {parseServiceUnitMarker} from '../apply/service-unit.js'
import {throwIfInterrupted} from '../cli/interrupt.js'
import type {Reporter} from '../events/event-types.js'
import type {Host} from '../hosts/host.js'
import {LOCK_ROOT} from '../revisions/host-locks.js'
import {JOURNAL_ROOT} from '../revisions/journal.js'
import {SERVICES_ROOT} from '../revisions/ledger.js'
import {SYSTEM_CONTAINERS} from '../system/definitions.js'
import {systemDir, unitPath} from '../system/layout.js'
import {SystemManager} from '../system/manager.js'
import {unitName} from '../system/unit.js'

export interface DestroyResult {
  units: string[]
  containers: string[]
  volumes: string[]
  paths: string[]
  /** System containers removed (--include-system). */
  system: string[]
}

export const destroyChanged = (r: DestroyResult) => Object.values(r).some((v) => v.length > 0)

const UNIT_GLOB = 'ls -1 /etc/systemd/system/osctl-svc-*.service 2>/dev/null; true'
const OSCTL_STATE = '/var/lib/osctl'
const CONFIG_ROOT = '/etc/osctl'
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/**
 * Everything `deploy` left on a host: service units (only files carrying osctl's marker), every
 * container labelled io.osctl.managed (spares and one-shot steps too), their volumes and the
 * catalog's named volumes, rendered configs, the ledger, journal and locks. What is already gone
 * is skipped, so running it again finishes a destroy that was cut short and then changes nothing.
 */
export async function destroyServices(host: Host, catalog: Catalog): Promise<Omit<DestroyResult, 'system'>> {
  const files = (await host.run(UNIT_GLOB)).split('\n').map((l) => l.trim()).filter(Boolean)
  const texts = await host.readFiles(files)
  const owned = files.filter((f) => parseServiceUnitMarker(texts.get(f)?.toString('utf8') ?? ''))
  const units = owned.map((f) => f.split('/').at(-1)!)
  if (units.length > 0) {
    // Disabled and stopped first: systemd's Restart= must not bring a container back while it is removed.
    await host.exec(['systemctl', 'disable', '--now', '--quiet', ...units])
    for (const f of owned) await host.remove(f)
    await host.run(['systemctl', 'daemon-reload'])
    await host.exec(['systemctl', 'reset-failed', ...units])
  }

  let containers: string[] = []
  const volumes = new Set<string>()
  const ps = await host.exec(['docker', 'ps', '-a', '--filter', `label=${LABELS.managed}=true`, '--format', '{{.Names}}'])
  // No Docker (bootstrap never got that far): no container and no volume to remove.
  const engine = ps.exitCode === 0
  if (engine) {
    containers = ps.stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort()
    if (containers.length > 0) {
      const mounts = await host.run(['docker', 'inspect', '-f', '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', ...containers])
      for (const v of mounts.split(/\s+/).filter(Boolean)) volumes.add(v)
      await host.run(['docker', 'rm', '-f', '-v', ...containers])
    }
    for (const s of catalog.services) for (const c of s.containers) for (const v of c.volumes) {
      const name = v.split(':')[0]
      if (VOLUME_NAME.test(name)) volumes.add(name)
    }
  }
  const existing = engine ? new Set((await host.run(['docker', 'volume', 'ls', '-q'])).split('\n').map((l) => l.trim())) : new Set<string>()
  const gone = [...volumes].filter((v) => existing.has(v)).sort()
  if (gone.length > 0) await host.run(['docker', 'volume', 'rm', '-f', ...gone])

  const candidates = [SERVICES_ROOT, JOURNAL_ROOT, LOCK_ROOT, ...catalog.services.flatMap((s) => s.containers.map((c) => configDir(c.name)))]
  const paths: string[] = []
  for (const p of candidates) if (await host.exists(p)) paths.push(p)
  if (paths.length > 0) await host.run(['rm', '-rf', '--', ...paths])
  // Only when nothing else is in it: on the machine running osctl it may be the site dir.
  await host.exec(['rmdir', '--ignore-fail-on-non-empty', CONFIG_ROOT])
  return {units, containers, volumes: gone, paths}
}

/**
 * The system containers too (after every host's services): their units, slots, revisions and OCI
 * store entries (SystemManager.remove), then what remove keeps on purpose, their data directories,
 * with the rest of /var/lib/osctl (everything in it is osctl's).
 */
export async function destroySystem(host: Host, reporter?: Reporter): Promise<{system: string[]; paths: string[]}> {
  const system: string[] = []
  const paths: string[] = []
  for (const def of SYSTEM_CONTAINERS) {
    throwIfInterrupted(`removing ${def.name} from ${host.name}`)
    if (!(await host.exists(systemDir(def.name))) && !(await host.exists(unitPath(def.name)))) continue
    await new SystemManager(host, reporter).remove(def.name)
    system.push(def.name)
  }
  // A unit that ended failed would stay listed (not-found, failed) after its file is gone.
  if (system.length > 0) await host.exec(['systemctl', 'reset-failed', ...system.map(unitName)])
  // Then the rest of osctl's state tree: data dirs, OCI store and its lock, caches.
  if (await host.exists(OSCTL_STATE)) {
    await host.run(['rm', '-rf', '--', OSCTL_STATE])
    paths.push(OSCTL_STATE)
  }
  return {system, paths}
}
