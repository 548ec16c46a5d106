import {execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile, mkdir, chmod} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {FakeEngine} from './fake-engine.js'
import type {FakeHost} from './fake-host.js'

// Stand-ins for the two host commands the swap script calls. They act on a list of container names
// and log what they did; everything else in the script (its order, conditions, cmp/mv/rm of the
// unit file) runs for real in /bin/sh.
const DOCKER = `#!/bin/sh
s="$OSCTL_FAKE/containers"
echo "docker $*" >> "$OSCTL_FAKE/ops"
has() { grep -qxF -- "$1" "$s"; }
case "$1" in
  rm) [ "$2" = -f ] && shift; has "$2" || { echo "Error: No such container: $2" >&2; exit 1; }
      grep -vxF -- "$2" "$s" > "$s.t" || true; mv "$s.t" "$s";;
  container) [ "$2" = inspect ] && has "$3";;
  kill) has "$2" || { echo "Error: No such container: $2" >&2; exit 1; };;
  rename) has "$2" || { echo "Error: No such container: $2" >&2; exit 1; }
          has "$3" && { echo "Error: Conflict. The container name $3 is already in use" >&2; exit 1; }
          awk -v a="$2" -v b="$3" '$0 == a {print b; next} {print}' "$s" > "$s.t"; mv "$s.t" "$s";;
  *) echo "fake docker: unexpected $*" >&2; exit 2;;
esac
`
const SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >> "$OSCTL_FAKE/ops"
`

/**
 * Runs the host-side swap (`systemd-run … -- /bin/sh -c SCRIPT osctl-swap NAME UNIT STAGED DEST`)
 * for real: the script gets the fake host's staged and installed unit files as real files and the
 * engine's container names, and what its `docker`/`systemctl` calls did is then applied to the
 * FakeEngine (`start`/`stop` of a unit start/stop its container) and to the fake host's files.
 */
export async function runSwapScript(host: FakeHost, engine: FakeEngine, argv: string[], units: {active: Set<string>; enabled?: Set<string>}): Promise<{exitCode: number; stderr: string}> {
  // systemd-run … -- /bin/sh SWAP_SCRIPT_PATH name unit staged dest [overlap]: the script as swapIn wrote it on the host.
  const [, scriptPath, name, unit, staged, dest, ...rest] = argv.slice(argv.indexOf('--') + 1)
  const script = host.files.get(scriptPath)?.data.toString('utf8')
  if (script === undefined) return {exitCode: 2, stderr: `/bin/sh: 0: cannot open ${scriptPath}: No such file\n`}
  const $0 = 'osctl-swap'
  const dir = await mkdtemp(join(tmpdir(), 'osctl-fake-swap-'))
  try {
    await mkdir(join(dir, 'bin'))
    await writeFile(join(dir, 'bin', 'docker'), DOCKER)
    await writeFile(join(dir, 'bin', 'systemctl'), SYSTEMCTL)
    await Promise.all(['docker', 'systemctl'].map((b) => chmod(join(dir, 'bin', b), 0o755)))
    await writeFile(join(dir, 'containers'), [...engine.containers.keys()].map((c) => `${c}\n`).join(''))
    await writeFile(join(dir, 'ops'), '')
    const local = {staged: join(dir, 'staged'), dest: join(dir, 'dest')}
    const stagedFile = host.files.get(staged)
    if (stagedFile) await writeFile(local.staged, stagedFile.data)
    const destFile = host.files.get(dest)
    if (destFile) await writeFile(local.dest, destFile.data)
    const r = await execa('/bin/sh', ['-c', script, $0, name, unit, local.staged, local.dest, ...rest], {
      reject: false,
      env: {PATH: `${join(dir, 'bin')}:${process.env.PATH}`, OSCTL_FAKE: dir},
    })
    for (const op of (await readFile(join(dir, 'ops'), 'utf8')).split('\n').filter(Boolean)) await replay(op.split(' '), engine, units)
    const after = await readFile(local.dest).catch(() => undefined)
    if (after) host.setFile(dest, after, destFile?.mode ?? 0o644)
    if (!(await readFile(local.staged).catch(() => undefined))) host.files.delete(staged)
    return {exitCode: r.exitCode ?? 1, stderr: String(r.stderr)}
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

async function replay([cmd, verb, ...args]: string[], engine: FakeEngine, units: {active: Set<string>; enabled?: Set<string>}): Promise<void> {
  const container = (unit: string) => unit.replace(/^osctl-svc-/, '').replace(/\.service$/, '')
  const unit = args.filter((a) => !a.startsWith('-'))[0] ?? ''
  if (cmd === 'docker' && verb === 'rm') await engine.removeContainer(args.at(-1)!)
  if (cmd === 'docker' && verb === 'kill') await engine.stopContainer(args[0])
  if (cmd === 'docker' && verb === 'rename' && engine.containers.has(args[0])) await engine.renameContainer(args[0], args[1])
  if (cmd === 'systemctl' && verb === 'enable') units.enabled?.add(unit)
  if (cmd === 'systemctl' && verb === 'stop') {
    units.active.delete(unit)
    // The unit's ExecStopPost: a running rollback standby goes too (service-unit.ts STANDBY_DROP_SCRIPT).
    if (engine.containers.get(`${container(unit)}.prev`)?.state === 'running') await engine.removeContainer(`${container(unit)}.prev`)
    await engine.stopContainer(container(unit))
  }
  if (cmd === 'systemctl' && verb === 'start') {
    units.active.add(unit)
    await engine.startContainer(container(unit))
  }
}
