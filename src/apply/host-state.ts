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
  /** The lock the observation was asked to take (observeHost's opts.lock): created or not, and the one-line files beside it. */
  lock?: LockClaimResult
}

/** A lock file to create exclusively, one line of content (host-locks.ts lockClaim). */
export interface LockClaim {
  file: string
  data: string
}

/** created: this exec made the file; false: it was there or could not be made (the taker looks again its own way). */
export interface LockClaimResult {
  created: boolean
  dir: Map<string, Buffer>
}

/**
 * argv: LOCK (a file to create, then its content: one line) or `-`, SERVICE_DIR… -- FILE… -- UNIT….
 * With a lock first `K+` (created: link(2) of a whole temp file), `K-` (it was there) or `K!` (not
 * created: the caller takes it its own way), then `k<name> <content>` per one-line file beside it
 * (the other osctl's locks: host-locks.ts). Per service dir three lines: `C<current>`, `L<revisions>`,
 * `R+` (record.json of the current revision follows in the blob) or `R-`; per file `F+` or `F-`;
 * `U` and `systemctl show` of the units (blocks in argument order); `B`, the sizes of the files
 * marked +, `D` and all of them, concatenated, in base64. Forks four processes whatever the count
 * (a lock: three more, and two per file beside it).
 */
export const OBSERVE_SCRIPT = `set -u
nl='
'
list=''
if [ "$1" != - ]; then
  f=$1 d=\${1%/*}
  t=$d/.\${1##*/}.osctl-$$
  trap 'rm -f -- "$t"' EXIT
  [ -d "$d" ] || (umask 077 && mkdir -p -- "$d") 2>/dev/null
  if (umask 077 && printf '%s\\n' "$2" > "$t") 2>/dev/null && ln -- "$t" "$f" 2>/dev/null; then echo K+
  elif [ -e "$f" ]; then echo K-
  else echo K!; fi
  rm -f -- "$t"
  trap - EXIT
  for l in "$d"/*; do
    [ -f "$l" ] || continue
    c=$(cat -- "$l" 2>/dev/null) || continue
    case $l$c in *"$nl"*) continue;; esac
    printf 'k%s %s\\n' "\${l##*/}" "$c"
  done
  shift
fi
shift
while [ "$1" != -- ]; do
  n=''
  if [ -f "$1/current" ]; then read -r n < "$1/current" || true; fi
  revs=''
  for r in "$1"/revisions/*; do [ -e "$r" ] && revs="$revs \${r##*/}"; done
  echo "C$n"
  echo "L$revs"
  r="$1/revisions/$n/record.json"
  case $n in ''|*[!0-9]*) echo R-;; *) if [ -f "$r" ]; then echo R+; list="$list$r$nl"; else echo R-; fi;; esac
  shift
done
shift
while [ "$1" != -- ]; do
  if [ -f "$1" ]; then echo F+; list="$list$1$nl"; else echo F-; fi
  shift
done
shift
echo U
if [ $# -gt 0 ]; then systemctl show --property=ActiveState,UnitFileState "$@" || exit; fi
echo B
[ -n "$list" ] || { echo D; exit 0; }
IFS=$nl
set -f
wc -c -- $list
echo D
cat -- $list | base64 -w0
echo
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

/**
 * Reads the host's state of these services: one exec on the host, one container list from its
 * engine. opts.lock: the same exec first creates that lock file (deploy's host pull lock: one round
 * trip per host for both).
 */
export async function observeHost(host: Host, docker: ContainerClient, services: RenderedService[], opts: {lock?: LockClaim} = {}): Promise<HostState> {
  const {dirs, files, units} = observeArgs(services)
  const lock = opts.lock ? [opts.lock.file, opts.lock.data] : ['-']
  const [out, list] = await Promise.all([host.run(['sh', '-c', OBSERVE_SCRIPT, 'osctl-observe', ...lock, ...dirs, '--', ...files, '--', ...units]), docker.listContainers({})])
  return {host: host.name, ...parseObserved(out, services.map((rs) => rs.service), files, units), containers: new Map(list.map((c) => [c.name, c]))}
}

/** OBSERVE_SCRIPT's output for these services, files and units (in the order they were passed). */
export function parseObserved(out: string, services: string[], files: string[], units: string[]): Pick<HostState, 'files' | 'ledgers' | 'units' | 'lock'> {
  const lines = out.split('\n')
  let at = 0
  const fail = (why: string): never => {
    throw new Error(`unexpected output from the host observation at line ${at}: ${why}`)
  }
  const take = (prefix: string) => {
    const line = lines[at++]
    if (line === undefined || !line.startsWith(prefix)) fail(JSON.stringify(line?.slice(0, 80)))
    return line.slice(prefix.length)
  }
  let lock: LockClaimResult | undefined
  if (lines[at]?.startsWith('K')) {
    lock = {created: take('K') === '+', dir: new Map()}
    for (; lines[at]?.startsWith('k'); at++) {
      const line = lines[at]
      const space = line.indexOf(' ')
      if (space < 0) fail(JSON.stringify(line.slice(0, 80)))
      lock.dir.set(line.slice(1, space), Buffer.from(line.slice(space + 1) + '\n'))
    }
  }
  // Each + is the next file of the blob; resolved once the blob is read.
  const wanted: Array<(text: string) => void> = []
  const ledgers = new Map<string, LedgerState>()
  for (const service of services) {
    const raw = take('C')
    const n = Number(raw)
    const current = raw !== '' && Number.isInteger(n) && n > 0 ? n : undefined
    const listed = take('L').split(' ').map(Number).filter((x) => Number.isInteger(x) && x > 0)
    const state: LedgerState = {nextRevision: Math.max(0, ...listed, current ?? 0) + 1}
    ledgers.set(service, state)
    if (take('R') === '+') wanted.push((text) => current !== undefined && (state.record = JSON.parse(text) as RevisionRecord))
  }
  const read = new Map<string, string | undefined>()
  for (const f of files) {
    read.set(f, undefined)
    if (take('F') === '+') wanted.push((text) => read.set(f, text))
  }
  take('U')
  const end = lines.indexOf('B', at)
  if (end < 0) fail('no B line')
  const blocks = lines.slice(at, end).join('\n').split(/\n\s*\n/).filter((b) => b.trim() !== '')
  const unitStates = new Map<string, UnitState>()
  for (const [i, u] of units.entries()) {
    const props = Object.fromEntries((blocks[i] ?? '').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    unitStates.set(u, {active: props.ActiveState ?? 'unknown', enabled: props.UnitFileState ?? ''})
  }
  at = end + 1
  const sizes: number[] = []
  for (let line = lines[at++]; line !== 'D'; line = lines[at++]) {
    if (line === undefined) fail('no D line')
    if (sizes.length < wanted.length) sizes.push(Number(line.trim().split(/\s+/)[0]))
  }
  const blob = Buffer.from(lines[at] ?? '', 'base64')
  if (sizes.length !== wanted.length || sizes.reduce((a, b) => a + b, 0) !== blob.length) fail('a file changed while it was read')
  let offset = 0
  for (const [i, resolve] of wanted.entries()) {
    resolve(blob.subarray(offset, offset + sizes[i]).toString('utf8'))
    offset += sizes[i]
  }
  return {files: read, ledgers, units: unitStates, ...(lock && {lock})}
}
