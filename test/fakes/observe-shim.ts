import {execa} from 'execa'
import {chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import type {FakeHost} from './fake-host.js'

// Stand-in for `systemctl show --property=ActiveState,UnitFileState UNIT…`: one block per unit, in
// argument order, from the fake's active and enabled sets (one unit name a line in two files).
const SYSTEMCTL = `#!/bin/sh
[ "$1" = show ] || { echo "fake systemctl: unexpected $*" >&2; exit 2; }
shift 2
first=1
for u in "$@"; do
  [ $first = 1 ] || echo
  first=0
  if grep -qxF -- "$u" "$OSCTL_FAKE/active"; then echo ActiveState=active; else echo ActiveState=inactive; fi
  if grep -qxF -- "$u" "$OSCTL_FAKE/enabled"; then echo UnitFileState=enabled; else echo UnitFileState=disabled; fi
done
`

/**
 * Runs host-state.ts's observation script (`sh -c SCRIPT osctl-observe LOCK [DATA] DIR… -- FILE… -- UNIT…`)
 * for real in /bin/sh: the fake host's files are laid out under a temp root, every path argument
 * is moved under it, and systemctl answers from the fake's unit sets; a lock file it created is
 * the fake host's from then on.
 */
export async function runObserveScript(host: FakeHost, argv: string[], units: {active: Set<string>; enabled: Set<string>}): Promise<{exitCode: number; stdout: string; stderr: string}> {
  const [, , script, $0, ...args] = argv
  const dir = await mkdtemp(join(tmpdir(), 'osctl-fake-observe-'))
  try {
    await mkdir(join(dir, 'bin'))
    await writeFile(join(dir, 'bin', 'systemctl'), SYSTEMCTL)
    await chmod(join(dir, 'bin', 'systemctl'), 0o755)
    await writeFile(join(dir, 'active'), [...units.active].map((u) => `${u}\n`).join(''))
    await writeFile(join(dir, 'enabled'), [...units.enabled].map((u) => `${u}\n`).join(''))
    for (const [path, f] of host.files) {
      await mkdir(dirname(join(dir, 'root', path)), {recursive: true})
      await writeFile(join(dir, 'root', path), f.data)
    }
    const firstUnit = args.lastIndexOf('--')
    const local = args.map((a, i) => (a.startsWith('/') && i < firstUnit ? join(dir, 'root', a) : a))
    const r = await execa('/bin/sh', ['-c', script, $0, ...local], {reject: false, env: {PATH: `${join(dir, 'bin')}:${process.env.PATH}`, OSCTL_FAKE: dir}})
    const lock = args[0]
    if (lock !== '-' && !host.files.has(lock) && String(r.stdout).startsWith('K+')) host.setFile(lock, await readFile(join(dir, 'root', lock)), (await stat(join(dir, 'root', lock))).mode & 0o7777)
    return {exitCode: r.exitCode ?? 1, stdout: String(r.stdout) + '\n', stderr: String(r.stderr)}
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
