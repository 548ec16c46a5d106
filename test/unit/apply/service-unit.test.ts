import {execa} from 'execa'
import {chmod, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {installSection, parseServiceUnitMarker, renderServiceUnit, systemdQuote} from '../../../src/apply/service-unit.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {dependencyContainers} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {VIP_HANDOVER_UNIT} from '../../../src/system/load-balancer.js'

const unit = renderServiceUnit({service: 'keystone', container: 'keystone'})

/** `Key=/bin/sh -c '<script>' <arg>` of the unit, as systemd hands it to sh ($$ is $). */
function inline(key: string): {script: string; arg: string} {
  const m = new RegExp(`^${key}=/bin/sh -c '([^']*)' (\\S+)$`, 'm').exec(unit)
  if (!m) throw new Error(`no inline ${key} in the unit`)
  return {script: m[1].replaceAll('$$', '$'), arg: m[2]}
}

// Stand-ins for docker and systemctl: each call takes the next scripted answer of its kind
// ("<exit code> <stdout>") from a file and is logged; a missing answer is a test bug (exit 99).
const FAKE = `#!/bin/sh
kind=$(basename "$0")
[ "$kind" = docker ] && kind=$1
echo "$(basename "$0") $*" >> "$OSCTL_FAKE/calls"
f="$OSCTL_FAKE/$kind"
[ -s "$f" ] || { echo "unscripted $kind call" >&2; exit 99; }
line=$(head -n 1 "$f"); tail -n +2 "$f" > "$f.t"; mv "$f.t" "$f"
out=\${line#* }; [ "$out" = "$line" ] && out=
[ -n "$out" ] && echo "$out"
exit \${line%% *}
`

describe('service unit', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-unit-'))
    await mkdir(join(dir, 'bin'))
    for (const b of ['docker', 'systemctl', 'sleep']) {
      await writeFile(join(dir, 'bin', b), b === 'sleep' ? '#!/bin/sh\n' : FAKE)
      await chmod(join(dir, 'bin', b), 0o755)
    }
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  const script = async (answers: Record<string, string[]>) => {
    for (const [kind, lines] of Object.entries(answers)) await writeFile(join(dir, kind), lines.map((l) => `${l}\n`).join(''))
  }
  const run = async (key: string, env: Record<string, string> = {}) => {
    const {script: s, arg} = inline(key)
    const r = await execa('/bin/sh', ['-c', s, arg], {reject: false, timeout: 10_000, env: {PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, OSCTL_FAKE: dir, ...env}, extendEnv: false})
    const calls = (await readFile(join(dir, 'calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean)
    return {exitCode: r.exitCode, calls, stderr: String(r.stderr)}
  }

  it('is ordered after Docker without being bound to it: a restart of the engine does not stop it', () => {
    expect(unit).toMatch(/^After=docker\.service$/m)
    expect(unit).toMatch(/^Wants=docker\.service$/m)
    expect(unit).not.toMatch(/^(Requires|BindsTo|PartOf|Requisite)=/m)
    expect(unit).toMatch(/^Restart=always$/m)
    expect(unit).toContain('# osctl-managed: service/keystone/keystone\n')
    expect(parseServiceUnitMarker(unit)).toEqual({service: 'keystone', container: 'keystone'})
    // Units written before they stopped naming the revision are still osctl's (destroy removes them).
    expect(parseServiceUnitMarker(unit.replace('keystone/keystone\n', 'keystone/keystone revision=7\n'))).toEqual({service: 'keystone', container: 'keystone'})
    expect(parseServiceUnitMarker('[Unit]\nDescription=x\n')).toBeUndefined()
  })

  it('stops after the VIP handover at shutdown, without holding keepalived back at boot', () => {
    // Before= at start is after at stop; ordering only, so a host without keepalived is unaffected.
    expect(unit).toMatch(new RegExp(`^Before=${VIP_HANDOVER_UNIT.replace('.', '\\.')}$`, 'm'))
    expect(unit).not.toMatch(/^(Wants|Requires)=osctl-/m)
    // Ordered against keepalived itself, the VIP waited at boot for every container's start job.
    expect(unit).not.toMatch(/^(Before|After)=.*osctl-keepalived/m)
  })

  it('starts after and stops before the containers of the services it depends on (ordering only, never itself)', async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const after = dependencyContainers(catalog, catalog.get('nova')!)
    expect(after).toEqual(expect.arrayContaining(['glance-api', 'keystone', 'mariadb', 'memcached', 'placement-api', 'rabbitmq']))
    expect(after).not.toContain('nova-api')
    // Through keystone: placement needs mariadb directly and through keystone, listed once.
    expect(dependencyContainers(catalog, catalog.get('mariadb')!)).toEqual([])
    const api = renderServiceUnit({service: 'nova', container: 'nova-api', after})
    const line = /^After=osctl-svc-.*$/m.exec(api)![0]
    expect(line.split('=')[1].split(' ')).toEqual(after.map((c) => `osctl-svc-${c}.service`))
    expect(api).not.toMatch(/^(Wants|Requires|BindsTo)=osctl-svc-/m)
    // Nothing to order against: no such line at all.
    expect(unit).not.toMatch(/^After=osctl-svc-/m)
  })

  it('the main process ends with the container, with its exit code, and attaches once', async () => {
    await script({start: ['3'], systemctl: ['0'], inspect: ['0 false']})
    const r = await run('ExecStart')
    expect(r.exitCode, r.stderr).toBe(3)
    expect(r.calls.filter((c) => c.startsWith('docker start'))).toEqual(['docker start -a keystone'])
  })

  it('when the engine goes away under a running container it waits for docker.service and attaches again', async () => {
    // Engine restarting: attach cut (125), docker.service not active twice, then active and the
    // container (live-restored) still runs; the second attach lasts until the container exits 0.
    // A rollback standby running beside it goes before the second attach (the container may have
    // been restarted by hand: its socket then joined the port's group after the standby's).
    await script({start: ['125', '0'], systemctl: ['3', '3', '0', '0'], inspect: ['0 true', '0 false'], container: ['0 true'], rm: ['0']})
    const r = await run('ExecStart')
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.calls).toEqual([
      'docker start -a keystone',
      'systemctl is-active --quiet docker.service',
      'systemctl is-active --quiet docker.service',
      'systemctl is-active --quiet docker.service',
      'docker inspect -f {{.State.Running}} keystone',
      'docker container inspect -f {{.State.Running}} keystone.prev',
      'docker rm -f keystone.prev',
      'docker start -a keystone',
      'systemctl is-active --quiet docker.service',
      'docker inspect -f {{.State.Running}} keystone',
    ])
  })

  it('ExecStopPost, after any stop (a crash too): a running standby <name>.prev is removed, a stopped one (a swap\'s kept container) left', async () => {
    expect(unit).toMatch(/^ExecStopPost=\/bin\/sh -c '.*' keystone$/m)
    await script({container: ['0 true'], rm: ['0']})
    const running = await run('ExecStopPost')
    expect(running.exitCode, running.stderr).toBe(0)
    expect(running.calls).toEqual(['docker container inspect -f {{.State.Running}} keystone.prev', 'docker rm -f keystone.prev'])
    await rm(join(dir, 'calls'))
    await script({container: ['0 false']})
    const stopped = await run('ExecStopPost')
    expect(stopped.exitCode, stopped.stderr).toBe(0)
    expect(stopped.calls).toEqual(['docker container inspect -f {{.State.Running}} keystone.prev'])
    await rm(join(dir, 'calls'))
    await script({container: ['1 Error: No such container: keystone.prev']})
    expect((await run('ExecStopPost')).exitCode).toBe(0)
  })

  it('keeps asking while the engine is active but does not answer yet; a removed container ends it', async () => {
    await script({start: ['1'], systemctl: ['0', '0'], inspect: ['1 Cannot connect to the Docker daemon', '1 Error: No such object: keystone']})
    const r = await run('ExecStart')
    expect(r.exitCode).toBe(1)
    expect(r.calls.filter((c) => c.startsWith('docker'))).toEqual(['docker start -a keystone', 'docker inspect -f {{.State.Running}} keystone', 'docker inspect -f {{.State.Running}} keystone'])
  })

  it('ExecStartPost returns once the container runs, or at once when the main process is gone', async () => {
    await script({inspect: ['0 false', '0 false', '0 true']})
    const r = await run('ExecStartPost', {MAINPID: String(process.pid)})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.calls).toEqual(Array(3).fill('docker inspect -f {{.State.Running}} keystone'))
    await rm(join(dir, 'calls'))
    await script({inspect: ['0 false']})
    const gone = await run('ExecStartPost', {MAINPID: '2147483646'})
    expect(gone.exitCode).toBe(0)
    expect(gone.calls).toEqual(['docker inspect -f {{.State.Running}} keystone'])
  })

  it('ExecStop stops the container only when the unit is being stopped (its main process still runs)', async () => {
    await script({stop: ['0']})
    expect((await run('ExecStop')).calls).toEqual([])
    const r = await run('ExecStop', {MAINPID: '4242'})
    expect(r.exitCode).toBe(0)
    expect(r.calls).toEqual(['docker stop -t 20 keystone'])
  })

  it('refuses a script systemd would mangle', () => {
    expect(() => systemdQuote("echo 'x'")).toThrow(/quotes/)
    expect(systemdQuote('echo $a 50%')).toBe('echo $$a 50%%')
  })

  it('a unit names no revision: a new revision with the same ordering has the same unit (nothing to write, no daemon-reload); [Install] alike', () => {
    const a = renderServiceUnit({service: 'nova', container: 'nova-api', after: ['mariadb']})
    const b = renderServiceUnit({service: 'nova', container: 'nova-api', after: ['mariadb', 'keystone']})
    expect(renderServiceUnit({service: 'nova', container: 'nova-api', after: ['mariadb']})).toBe(a)
    expect(a).not.toMatch(/revision/)
    expect(a).not.toBe(b)
    expect(installSection(a)).toBe('WantedBy=multi-user.target')
    expect(installSection(b)).toBe(installSection(a))
    expect(installSection(a.replace('multi-user.target', 'graphical.target'))).not.toBe(installSection(a))
    expect(installSection('[Unit]\nDescription=x\n')).toBe('')
    expect(installSection(undefined)).toBe('')
  })
})
