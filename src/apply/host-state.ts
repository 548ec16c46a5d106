import {posix} from 'node:path'

import type {ContainerClient, ContainerInfo} from '../docker/types.js'
import type {Host} from '../hosts/host.js'
import {configDir} from '../catalog/container-spec.js'
import type {RenderedService} from '../catalog/render.js'
import {journalFile} from '../revisions/journal.js'
import {FINGERPRINTS, RevisionRecord, serviceDir} from '../revisions/ledger.js'
import {serviceUnitName, serviceUnitPath} from './service-unit.js'

/** The ledger of one service on a host, as Ledger.current and Ledger.nextNumber would read it. */
export interface LedgerState {
  record?: RevisionRecord
  nextRevision: number
}

export interface UnitState {
  /** systemd's ActiveState: active, inactive, failed … */
  active: string
  /** systemd's UnitFileState: enabled, disabled, '' for a unit with no file … */
  enabled: string
}

/**
 * Everything deploy compares against, for a set of services on one host, read in one SSH exec
 * (journal entries, ledger, bootstrap keys, fingerprints, unit files, config files, unit states)
 * and one container list from the engine.
 */
export interface HostState {
  host: string
  /** Path → UTF-8 content; undefined: no such file. */
  files: Map<string, string | undefined>
  ledgers: Map<string, LedgerState>
  units: Map<string, UnitState>
  /** Every container on the host (running or not), by name. */
  containers: Map<string, ContainerInfo>
}

/**
 * argv: SERVICE_DIR… -- FILE… -- UNIT…. Per service dir three lines: `C<current>`, `L<revisions
 * listing>`, `R+<base64 record.json of current>` or `R-`; per file `F+<base64>` or `F-`; then
 * `U` and `systemctl show` of the units (blocks in argument order).
 */
export const OBSERVE_SCRIPT = `set -u
while [ "$1" != -- ]; do
  n=$(cat -- "$1/current" 2>/dev/null | tr -d ' \\t\\n' || true)
  echo "C$n"
  echo "L$(ls -1 -- "$1/revisions" 2>/dev/null | tr '\\n' ' ' || true)"
  r="$1/revisions/$n/record.json"
  case $n in ''|*[!0-9]*) echo R-;; *) if [ -f "$r" ]; then printf R+; base64 -w0 < "$r"; echo; else echo R-; fi;; esac
  shift
done
shift
while [ "$1" != -- ]; do
  if [ -f "$1" ]; then printf F+; base64 -w0 < "$1"; echo; else echo F-; fi
  shift
done
shift
echo U
[ $# -eq 0 ] || exec systemctl show --property=ActiveState,UnitFileState "$@"
`

/** The files a service's observation reads (observe.ts serviceFromHost looks them up by these paths). */
export function serviceFiles(rs: RenderedService): string[] {
  const dir = serviceDir(rs.service)
  return [journalFile(rs.service), posix.join(dir, 'bootstrap.json'), posix.join(dir, FINGERPRINTS), ...rs.containers.flatMap((c) => [serviceUnitPath(c.name), ...Object.keys(c.files).map((f) => posix.join(configDir(c.name), f))])]
}

export function observeArgs(services: RenderedService[]): {dirs: string[]; files: string[]; units: string[]} {
  return {
    dirs: services.map((rs) => serviceDir(rs.service)),
    files: [...new Set(services.flatMap(serviceFiles))],
    units: services.flatMap((rs) => rs.containers.map((c) => serviceUnitName(c.name))),
  }
}

/** Reads the host's state of these services: one exec on the host, one container list from its engine. */
export async function observeHost(host: Host, docker: ContainerClient, services: RenderedService[]): Promise<HostState> {
  const {dirs, files, units} = observeArgs(services)
  const [out, list] = await Promise.all([host.run(['sh', '-c', OBSERVE_SCRIPT, 'osctl-observe', ...dirs, '--', ...files, '--', ...units]), docker.listContainers({})])
  return {host: host.name, ...parseObserved(out, services.map((rs) => rs.service), files, units), containers: new Map(list.map((c) => [c.name, c]))}
}

/** OBSERVE_SCRIPT's output for these services, files and units (in the order they were passed). */
export function parseObserved(out: string, services: string[], files: string[], units: string[]): Pick<HostState, 'files' | 'ledgers' | 'units'> {
  const lines = out.split('\n')
  let at = 0
  const take = (prefix: string) => {
    const line = lines[at++]
    if (line === undefined || !line.startsWith(prefix)) throw new Error(`unexpected output from the host observation at line ${at}: ${JSON.stringify(line?.slice(0, 80))}`)
    return line.slice(prefix.length)
  }
  const blob = (prefix: string) => {
    const v = take(prefix)
    return v === '-' ? undefined : Buffer.from(v.slice(1), 'base64').toString('utf8')
  }
  const ledgers = new Map<string, LedgerState>()
  for (const service of services) {
    const raw = take('C')
    const n = Number(raw)
    const current = raw !== '' && Number.isInteger(n) && n > 0 ? n : undefined
    const listed = take('L').split(' ').map(Number).filter((x) => Number.isInteger(x) && x > 0)
    const record = blob('R')
    ledgers.set(service, {...(current !== undefined && record !== undefined ? {record: JSON.parse(record) as RevisionRecord} : {}), nextRevision: Math.max(0, ...listed, current ?? 0) + 1})
  }
  const read = new Map<string, string | undefined>()
  for (const f of files) read.set(f, blob('F'))
  take('U')
  const blocks = lines.slice(at).join('\n').split(/\n\s*\n/).filter((b) => b.trim() !== '')
  const unitStates = new Map<string, UnitState>()
  for (const [i, u] of units.entries()) {
    const props = Object.fromEntries((blocks[i] ?? '').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    unitStates.set(u, {active: props.ActiveState ?? 'unknown', enabled: props.UnitFileState ?? ''})
  }
  return {files: read, ledgers, units: unitStates}
}
