import {execa} from 'execa'
import {chmod, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {STANDBY_EXPIRE_PATH, STANDBY_EXPIRE_SCRIPT, STANDBY_SCRIPT, standbyUnit, warmUp} from '../../../src/apply/container-swap.js'
import {unixSeconds} from '../../../src/docker/docker-client.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

describe('overlap warm-up', () => {
  it('a container that ran before (the kept previous one, reused for an undo) is ready only when this run says so, not by its earlier run\'s ready line', async () => {
    const lab = fakeLab(testSite(), registryRefs(['keystone'], ['zed']))
    const e = lab.engines.get('lab-1')!
    const h = lab.hosts.get('lab-1')!
    const image = '10.0.0.11:4000/osctl/keystone:zed'
    await e.pullImage(image)
    await e.createContainer({name: 'keystone.next', image, labels: {}})
    await e.startContainer('keystone.next')
    await e.stopContainer('keystone.next')
    const ended = (await e.inspectContainer('keystone.next'))!.finishedAt!
    // Its log as the engine keeps it: the earlier run's lines, ready line included, then this run's.
    const said = [{at: Date.parse(ended) - 5000, text: 'WSGI app 0 ready\n'}]
    const asked: Array<string | undefined> = []
    e.containerLogs = async (_name: string, _tail?: number, since?: string) => {
      asked.push(since)
      return said.filter((l) => since === undefined || l.at >= Date.parse(since)).map((l) => l.text).join('')
    }
    const started = performance.now()
    setTimeout(() => said.push({at: Date.now(), text: 'WSGI app 0 ready\n'}), 600)
    await warmUp(h, e, 'keystone', 'WSGI app 0 ready', 10)
    expect(performance.now() - started).toBeGreaterThanOrEqual(550)
    expect(asked.every((s) => s === ended)).toBe(true)
    expect((await e.inspectContainer('keystone.next'))?.state).toBe('running')
  })

  it('a container never run before: its whole log counts', async () => {
    const lab = fakeLab(testSite(), registryRefs(['keystone'], ['zed']))
    const e = lab.engines.get('lab-1')!
    const image = '10.0.0.11:4000/osctl/keystone:zed'
    await e.pullImage(image)
    await e.createContainer({name: 'keystone.next', image, labels: {}})
    e.output.set('keystone.next', 'loading\nWSGI app 0 ready\n')
    const asked: Array<string | undefined> = []
    const logs = e.containerLogs.bind(e)
    e.containerLogs = async (name: string, tail?: number, since?: string) => {
      asked.push(since)
      return logs(name, tail, since)
    }
    await warmUp(lab.hosts.get('lab-1')!, e, 'keystone', 'WSGI app 0 ready', 10)
    expect(asked).toEqual([undefined])
  })
})

describe('unixSeconds (the engine\'s `since`)', () => {
  it('keeps Docker\'s nanoseconds and takes offsets and missing fractions', () => {
    expect(unixSeconds('2026-12-07T18:35:29.135139974Z')).toBe('1796668529.135139974')
    expect(unixSeconds('2026-12-07T18:35:29.1Z')).toBe('1796668529.100000000')
    expect(unixSeconds('2026-12-07T18:35:29Z')).toBe('1796668529.000000000')
    expect(unixSeconds('2026-12-07T19:35:29.5+01:00')).toBe('1796668529.500000000')
    expect(() => unixSeconds('yesterday')).toThrow(/RFC 3339/)
  })
})

describe('the rollback standby\'s host scripts, run in /bin/sh with docker, systemctl and systemd-run stubbed', () => {
  // Each stub logs its call; `docker container inspect` answers what DOCKER_INSPECT says (exit 1 when empty).
  const STUB = `#!/bin/sh
echo "$(basename "$0") $*" >> "$OSCTL_FAKE/calls"
if [ "$(basename "$0")" = docker ] && [ "$1 $2" = "container inspect" ]; then [ -n "$DOCKER_INSPECT" ] || exit 1; echo "$DOCKER_INSPECT"; fi
exit 0
`
  const run = async (script: string, args: string[], inspect: string) => {
    const dir = await mkdtemp(join(tmpdir(), 'osctl-standby-'))
    try {
      await mkdir(join(dir, 'bin'))
      for (const b of ['docker', 'systemctl', 'systemd-run']) {
        await writeFile(join(dir, 'bin', b), STUB)
        await chmod(join(dir, 'bin', b), 0o755)
      }
      const r = await execa('/bin/sh', ['-c', script, 'osctl-test', ...args], {reject: false, env: {PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, OSCTL_FAKE: dir, DOCKER_INSPECT: inspect}, extendEnv: false})
      const calls = (await readFile(join(dir, 'calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean)
      return {exitCode: r.exitCode, calls}
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  }

  it('STANDBY_SCRIPT: the earlier timer stopped, the warm-up weight, then a timer that runs the expiry script with the container id', async () => {
    const r = await run(STANDBY_SCRIPT, ['nova-api', '600', STANDBY_EXPIRE_PATH, standbyUnit('nova-api')], 'c0ffee')
    expect(r.exitCode).toBe(0)
    expect(r.calls).toEqual([
      'systemctl stop osctl-standby-nova-api.timer osctl-standby-nova-api.service',
      'docker container inspect -f {{.Id}} nova-api.prev',
      'docker update --cpu-shares 128 nova-api.prev',
      `systemd-run --quiet --collect --unit=osctl-standby-nova-api --on-active=600s --timer-property=AccuracySec=1s /bin/sh ${STANDBY_EXPIRE_PATH} c0ffee nova-api`,
    ])
    // No `.prev` to keep: fails before setting any timer.
    const none = await run(STANDBY_SCRIPT, ['nova-api', '600', STANDBY_EXPIRE_PATH, standbyUnit('nova-api')], '')
    expect(none.exitCode).not.toBe(0)
    expect(none.calls.some((c) => c.startsWith('systemd-run'))).toBe(false)
  })

  it('STANDBY_EXPIRE_SCRIPT removes the container only while it still is that standby (running, or stopped by a crash)', async () => {
    for (const inspect of ['/nova-api.prev']) {
      const removed = await run(STANDBY_EXPIRE_SCRIPT, ['c0ffee', 'nova-api'], inspect)
      expect(removed.calls).toEqual(['docker container inspect -f {{.Name}} c0ffee', 'docker rm -f c0ffee'])
    }
    // Taken into service by a rollback (which stopped this timer first); gone.
    for (const inspect of ['/nova-api', '/nova-api.next', '']) {
      const left = await run(STANDBY_EXPIRE_SCRIPT, ['c0ffee', 'nova-api'], inspect)
      expect(left.exitCode, inspect).toBe(0)
      expect(left.calls.filter((c) => c.startsWith('docker rm')), inspect).toEqual([])
    }
  })
})
