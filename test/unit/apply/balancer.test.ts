import {execa} from 'execa'
import {chmod, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {HaproxyBalancer, SET_SCRIPT, SQL_DRAIN_WAIT_MS, WARM_SCRIPT, WARM_WEIGHT_WRAP, balancerFor, noBalancer} from '../../../src/apply/balancer.js'
import {describeEvent, levelOf} from '../../../src/events/describe.js'
import type {EventData} from '../../../src/events/event-types.js'
import {silentReporter} from '../../../src/events/reporters.js'
import {passwordAuthBody} from '../../../src/ops/openstack-api.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {LOCK_ROOT} from '../../../src/revisions/host-locks.js'
import {noteSiteLock} from '../../../src/session/site-lock-state.js'
import {API_FRONTENDS} from '../../../src/system/load-balancer.js'
import {HostSession} from '../../../src/session/host-session.js'
import {fakeHaproxyRuntime} from '../../fakes/fake-haproxy.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {testSite} from '../../fakes/site.js'

/**
 * A control host whose haproxy keeps `inflight` requests on `proxy`/`server` (nova_api/lab-2) until
 * the drain has been seen twice (`polls` times; Infinity: sessions that never end); lab-1 is
 * another server, up, unless `alone`.
 */
function lb(name: string, log: string[], opts: {inflight?: number; down?: boolean; proxy?: string; server?: string; polls?: number; alone?: boolean} = {}): FakeHost {
  const h = new FakeHost(name)
  let polls = 0
  const proxy = opts.proxy ?? 'nova_api'
  fakeHaproxyRuntime(h, (call) => {
    if (opts.down) return {exitCode: 1, stderr: 'container osctl-haproxy does not exist'}
    if (call.input!.startsWith('show stat')) {
      const busy = polls++ < (opts.polls ?? 2) ? (opts.inflight ?? 0) : 0
      // pxname, svname, qcur, qmax, scur, …, status (the 18th column).
      const row = (server: string, sessions: number | string, status: string) => `${proxy},${server},0,0,${sessions}${','.repeat(13)}${status}`
      const rows = [row('FRONTEND', 9, 'OPEN'), ...(opts.alone ? [] : [row('lab-1', 4, 'UP')]), row(opts.server ?? 'lab-2', busy, 'DRAIN')]
      return `# pxname,svname,qcur,qmax,scur\n${rows.join('\n')}\n`
    }
    log.push(`${name}: ${call.input!.trim()}`)
    return '\n'
  })
  return h
}

describe('haproxy balancer around a container swap', () => {
  it('drains the host on every haproxy, waits for its requests to finish, swaps, then sets it ready', async () => {
    const log: string[] = []
    const hosts = [lb('lab-1', log, {inflight: 2}), lb('lab-2', log)]
    const b = new HaproxyBalancer(() => hosts, silentReporter)
    const result = await b.around('lab-2', 'nova-api', async () => {
      log.push('swap')
      return 'healthy'
    })
    expect(result).toBe('healthy')
    expect(log).toEqual(['lab-1: set server nova_api/lab-2 state drain', 'lab-2: set server nova_api/lab-2 state drain', 'swap', 'lab-1: set server nova_api/lab-2 state ready', 'lab-2: set server nova_api/lab-2 state ready'])
    // It waited: lab-1's haproxy was asked until lab-2 had nothing in flight.
    expect(hosts[0].calls.filter((c) => c.input === 'show stat\n').length).toBeGreaterThanOrEqual(3)
  })

  it('mariadb (SQL over TCP): its sessions are pooled connections that never end by themselves, so it waits the services\' recycle time, not the API bound; a node without sessions, or the only node, at once', async () => {
    const log: string[] = []
    const forever = [lb('lab-1', log, {proxy: 'mariadb', server: 'lab-3', inflight: 7, polls: Infinity})]
    const b = new HaproxyBalancer(() => forever, silentReporter, {drainWaitMs: 100, sqlDrainWaitMs: 600})
    const began = Date.now()
    await b.around('lab-3', 'mariadb', async () => void log.push('swap'))
    expect(Date.now() - began).toBeGreaterThanOrEqual(600)
    expect(log).toEqual(['lab-1: set server mariadb/lab-3 state drain', 'swap', 'lab-1: set server mariadb/lab-3 state ready'])
    // A node nothing is connected to: one look, then the swap.
    const idle = [lb('lab-1', log, {proxy: 'mariadb', server: 'lab-3'})]
    await new HaproxyBalancer(() => idle, silentReporter, {sqlDrainWaitMs: 60_000}).around('lab-3', 'mariadb', async () => 'ok')
    expect(idle[0].calls.filter((c) => c.input === 'show stat\n')).toHaveLength(1)
    // One control host: no other node could take its connections, so no wait (only the drain).
    const only = [lb('lab-3', log, {proxy: 'mariadb', server: 'lab-3', inflight: 7, polls: Infinity, alone: true})]
    await new HaproxyBalancer(() => only, silentReporter, {sqlDrainWaitMs: 60_000}).around('lab-3', 'mariadb', async () => 'ok')
    expect(only[0].calls.filter((c) => c.input === 'show stat\n')).toHaveLength(1)
  })

  it('the SQL wait covers the connection_recycle_time of every database section in templates/, with a second to spare', async () => {
    const limit = (SQL_DRAIN_WAIT_MS - 1000) / 1000
    const sections: string[] = []
    for (const dir of await readdir(TEMPLATES_DIR))
      for (const f of await readdir(join(TEMPLATES_DIR, dir)).catch(() => [])) {
        const text = await readFile(join(TEMPLATES_DIR, dir, f), 'utf8').catch(() => '')
        // Every [section] that connects to SQL names its own recycle time, a number within the wait.
        for (const section of text.split(/^(?=\[)/m).filter((b) => /^connection\s*=\s*mysql/m.test(b))) {
          const recycle = /^connection_recycle_time\s*=\s*(\d+)\s*$/m.exec(section)
          sections.push(`${dir}/${f} ${section.split('\n')[0]} ${recycle && Number(recycle[1]) <= limit ? 'ok' : recycle?.[0] ?? 'no connection_recycle_time'}`)
        }
      }
    expect(sections.length).toBeGreaterThanOrEqual(6)
    expect(sections.filter((l) => !l.endsWith(' ok'))).toEqual([])
  })

  it('around a stop: drained and idle first, then marked down before it is set ready (one line), so nothing reaches it until haproxy\'s checks see it answer, also when the stop failed', async () => {
    const log: string[] = []
    const hosts = [lb('lab-1', log, {proxy: 'keystone', inflight: 1}), lb('lab-2', log, {proxy: 'keystone'})]
    const events: Array<{code: string; data: unknown}> = []
    const b = new HaproxyBalancer(() => hosts, {emit: (code: string, data: unknown) => void events.push({code, data})} as never)
    expect(
      await b.out('lab-2', 'keystone', async () => {
        log.push('stop')
        return 'stopped'
      }),
    ).toBe('stopped')
    expect(log).toEqual([
      'lab-1: set server keystone/lab-2 state drain',
      'lab-2: set server keystone/lab-2 state drain',
      'stop',
      // One line: haproxy runs a second line only if it arrived with the first.
      'lab-1: set server keystone/lab-2 health down; set server keystone/lab-2 state ready',
      'lab-2: set server keystone/lab-2 health down; set server keystone/lab-2 state ready',
    ])
    expect(hosts[0].calls.filter((c) => c.input === 'show stat\n').length).toBeGreaterThanOrEqual(3)
    expect(events.filter((e) => e.code === 'balancer.state').map((e) => e.data)).toContainEqual({server: 'lab-2', frontends: ['keystone'], state: 'ready', health: 'down'})
    log.length = 0
    // A stop that failed (the container may be gone or still run): down all the same, its checks bring back one that answers.
    await expect(b.out('lab-2', 'keystone', async () => Promise.reject(new Error('still runs')))).rejects.toThrow('still runs')
    expect(log.filter((l) => l.startsWith('lab-1'))).toEqual(['lab-1: set server keystone/lab-2 state drain', 'lab-1: set server keystone/lab-2 health down; set server keystone/lab-2 state ready'])
    // Nothing served by haproxy: only the stop.
    expect(await noBalancer.out('lab-1', 'keystone', async () => 3)).toBe(3)
    expect(await b.out('lab-1', 'nova-conductor', async () => 4)).toBe(4)
  })

  it('sets the backend ready again when the swap fails, and rethrows', async () => {
    const log: string[] = []
    const b = new HaproxyBalancer(() => [lb('lab-1', log)], silentReporter)
    await expect(b.around('lab-1', 'keystone', async () => Promise.reject(new Error('not healthy')))).rejects.toThrow('not healthy')
    expect(log).toEqual(['lab-1: set server keystone/lab-1 state drain', 'lab-1: set server keystone/lab-1 state ready'])
  })

  it('a control host without a running haproxy does not stop the swap; the event says so', async () => {
    const log: string[] = []
    const events: Array<{code: string; host?: string}> = []
    const reporter = {emit: (code: string, _d: unknown, host?: string) => void events.push({code, host})}
    const b = new HaproxyBalancer(() => [lb('lab-1', log, {down: true}), lb('lab-2', log)], reporter as never)
    expect(await b.around('lab-1', 'nova-metadata', async () => 'ok')).toBe('ok')
    expect(log).toEqual(['lab-2: set server nova_metadata/lab-1 state drain', 'lab-2: set server nova_metadata/lab-1 state ready'])
    expect(events.filter((e) => e.code === 'balancer.unreachable').map((e) => e.host)).toEqual(['lab-1', 'lab-1'])
  })

  it('a drain leaves a marker on each haproxy host naming this osctl until the ready; SET_SCRIPT for real in /bin/sh: marker before haproxy is told, gone only after haproxy took the ready', async () => {
    const log: string[] = []
    const hosts = [lb('lab-1', log), lb('lab-2', log)]
    const marker = `${LOCK_ROOT}/drain-lab-2-keystone.json`
    const seen: Array<Record<string, unknown> | undefined> = []
    await new HaproxyBalancer(() => hosts, silentReporter, {command: 'osctl service restart keystone'}).around('lab-2', 'keystone', async () => {
      for (const h of hosts) seen.push(h.text(marker) === undefined ? undefined : JSON.parse(h.text(marker)!))
    })
    expect(seen).toEqual([0, 1].map(() => ({kind: 'drain', server: 'lab-2', container: 'keystone', frontends: ['keystone'], command: 'osctl service restart keystone', machine: hostname(), pid: process.pid, user: expect.any(String), startedAt: expect.any(String)})))
    for (const h of hosts) expect(h.text(marker)).toBeUndefined()

    const dir = await mkdtemp(join(tmpdir(), 'osctl-lb-set-'))
    try {
      // runc stand-in: the runtime commands it got, in order, after what the marker was then; exits $RC.
      await writeFile(join(dir, 'runc'), `#!/bin/sh\n{ if [ -e "${dir}/m/drain.json" ]; then echo marker; else echo none; fi; cat; } >> "${dir}/said"\nexit \${RC:-0}\n`)
      await chmod(join(dir, 'runc'), 0o755)
      const set = (data: string, rc = 0) => execa('/bin/sh', ['-c', SET_SCRIPT, 'osctl-lb-set', join(dir, 'm', 'drain.json'), data, 'runc', 'exec', 'osctl-haproxy'], {input: 'set server keystone/lab-2 state x\n', reject: false, env: {PATH: `${dir}:${process.env.PATH}`, RC: String(rc)}})
      expect((await set('{"kind":"drain"}')).exitCode).toBe(0)
      expect(await readFile(join(dir, 'm', 'drain.json'), 'utf8')).toBe('{"kind":"drain"}\n')
      expect(((await stat(join(dir, 'm', 'drain.json'))).mode & 0o777).toString(8)).toBe('600')
      expect((await set('-', 1)).exitCode).toBe(1)
      expect(await readFile(join(dir, 'm', 'drain.json'), 'utf8')).toBe('{"kind":"drain"}\n')
      expect((await set('-')).exitCode).toBe(0)
      await expect(stat(join(dir, 'm', 'drain.json'))).rejects.toThrow(/ENOENT/)
      expect(await readFile(join(dir, 'said'), 'utf8')).toBe('marker\nset server keystone/lab-2 state x\n'.repeat(3))
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('recover(): a backend whose drain\'s osctl is gone (this machine: its pid is not running; another: an hour on, or any holding the site lock) is warmed if its container runs, then set ready where marked, its markers gone; one of this process, or of a live one, is left', async () => {
    const log: string[] = []
    const events: Array<{code: string; data: Record<string, unknown>; host?: string}> = []
    const marker = (server: string, container: string, machine: string, pid: number, startedAt = '2026-12-07T10:00:00.000Z') => JSON.stringify({kind: 'drain', server, container, frontends: API_FRONTENDS.filter((f) => f.container === container).map((f) => f.name), command: 'osctl service restart', machine, pid, user: 'ops', startedAt})
    // Above any pid_max (2^22): no process has it, however busy the machine.
    const dead = 2 ** 22 + 1
    const lab1 = new Map<string, string>([
      ['drain-lab-2-keystone.json', marker('lab-2', 'keystone', hostname(), dead)],
      ['drain-lab-3-nova-api.json', marker('lab-3', 'nova-api', 'elsewhere', 4242)],
      ['drain-lab-3-glance-api.json', marker('lab-3', 'glance-api', 'elsewhere', 4243, new Date().toISOString())],
      ['drain-lab-1-keystone.json', marker('lab-1', 'keystone', hostname(), process.pid)],
      ['drain-lab-3-keystone.json', marker('lab-3', 'keystone', hostname(), process.ppid)],
      ['drain-lab-9-placement-api.json', 'not json'],
      [`pull-${hostname()}-${dead}.json`, JSON.stringify({kind: 'pull', machine: hostname(), pid: dead})],
    ])
    const lab2 = new Map([['drain-lab-2-keystone.json', lab1.get('drain-lab-2-keystone.json')!]])
    const hosts = [lb('lab-1', log, {proxy: 'keystone'}), lb('lab-2', log, {proxy: 'keystone'})]
    for (const [h, files] of [[hosts[0], lab1], [hosts[1], lab2]] as const) for (const [f, text] of files) h.setFile(`${LOCK_ROOT}/${f}`, text + '\n', 0o600)
    hosts[1].on(/ docker exec -i keystone /, () => void log.push('lab-2: warm keystone'))
    const b = new HaproxyBalancer(() => hosts, {emit: (code: string, data: Record<string, unknown>, host?: string) => void events.push({code, data, host})} as never, {warmUp: {host: (n: string) => hosts.find((h) => h.name === n)!, address: () => '192.0.2.1', password: 'pw'}})
    const found = () => [hosts[0], hosts[1]].map((lb) => ({lb, files: new Map([...lb.files].filter(([k]) => k.startsWith(`${LOCK_ROOT}/`)).map(([k, f]) => [k.slice(LOCK_ROOT.length + 1), Buffer.from(f.data)]))}))
    const asked: string[] = []
    const running = async (server: string, container: string) => {
      asked.push(`${server} ${container}`)
      return server === 'lab-2'
    }
    await b.recover(found(), running)
    // lab-2's keystone runs (maybe a new container, never warmed): warmed once, then ready on both haproxies that drained it.
    expect(log.filter((l) => !l.includes('show stat')).sort()).toEqual(['lab-1: set server keystone/lab-2 state ready', 'lab-1: set server nova_api/lab-3 state ready', 'lab-2: set server keystone/lab-2 state ready', 'lab-2: warm keystone'])
    expect(log.indexOf('lab-2: warm keystone')).toBeLessThan(log.indexOf('lab-2: set server keystone/lab-2 state ready'))
    expect(asked.sort()).toEqual(['lab-2 keystone', 'lab-3 nova-api'])
    const left = (h: FakeHost) => [...h.files.keys()].filter((f) => f.startsWith(`${LOCK_ROOT}/`)).map((f) => f.slice(LOCK_ROOT.length + 1)).sort()
    expect(left(hosts[0])).toEqual(['drain-lab-1-keystone.json', 'drain-lab-3-glance-api.json', 'drain-lab-3-keystone.json', 'drain-lab-9-placement-api.json', `pull-${hostname()}-${dead}.json`])
    expect(left(hosts[1])).toEqual([])
    const ready = events.filter((e) => e.code === 'balancer.state')
    expect(ready.map((e) => `${e.host} ${String(e.data.left)}`).sort()).toEqual([
      `lab-1 \`osctl service restart\` (osctl pid ${dead} on ${hostname()}, by ops, since 2026-12-07T10:00:00.000Z)`,
      `lab-1 \`osctl service restart\` (osctl pid 4242 on elsewhere, by ops, since 2026-12-07T10:00:00.000Z)`,
      `lab-2 \`osctl service restart\` (osctl pid ${dead} on ${hostname()}, by ops, since 2026-12-07T10:00:00.000Z)`,
    ])
    expect(describeEvent({code: 'balancer.state', data: ready[0].data} as never).text).toMatch(/ ready: left drained by `osctl service restart` \(osctl pid \d+ .*\), which is gone$/)
    // Another machine's drain of the last hour is undone only by an osctl holding the site lock (no other osctl can be mid-drain then).
    log.length = 0
    noteSiteLock(true)
    try {
      await b.recover(found(), running)
    } finally {
      noteSiteLock(false)
    }
    expect(log.filter((l) => !l.includes('show stat'))).toEqual(['lab-1: set server glance_api/lab-3 state ready'])
    expect(left(hosts[0])).toEqual(['drain-lab-1-keystone.json', 'drain-lab-3-keystone.json', 'drain-lab-9-placement-api.json', `pull-${hostname()}-${dead}.json`])
    expect(await noBalancer.recover([], running)).toBeUndefined()
  })

  it('containers no frontend serves, and sites without internal_vip, only run the swap', async () => {
    const log: string[] = []
    const host = lb('lab-1', log)
    expect(await new HaproxyBalancer(() => [host], silentReporter).around('lab-1', 'nova-conductor', async () => 7)).toBe(7)
    expect(host.calls).toEqual([])
    expect(balancerFor(testSite(), {} as HostSession, silentReporter)).toBe(noBalancer)
    expect(balancerFor(testSite({internalVip: '10.0.0.250'}), {} as HostSession, silentReporter)).toBeInstanceOf(HaproxyBalancer)
  })
})

describe('warm-up of a new API container before it is set ready', () => {
  const warmUp = (hosts: Record<string, FakeHost>) => ({host: (n: string) => hosts[n], address: (n: string) => hosts[n]?.address, password: 'pw"1'})

  it('after the swap and before ready: in the container, one token for the whole command, the answers in the event', async () => {
    const log: string[] = []
    const events: Array<{code: string; data: Record<string, unknown>}> = []
    const reporter = {emit: (code: string, data: Record<string, unknown>) => void events.push({code, data})}
    const lbs = [lb('lab-1', log), lb('lab-2', log)]
    const inputs: string[] = []
    for (const h of lbs)
      h.on(/^sh -c .* osctl-warm-weight 128 nova-api docker exec -i nova-api sh -c /s, (call) => {
        inputs.push(call.input!)
        log.push(`${h.name}: warm ${call.argv!.slice(14).join(' ')}`)
        return `${call.input!.startsWith('\n') ? 'token tok-8d1e\n' : ''}8774 200 0.812\n8774 200 0.795\n`
      })
    const b = new HaproxyBalancer(() => lbs, reporter as never, {drainWaitMs: 100, warmUp: warmUp({'lab-1': lbs[0], 'lab-2': lbs[1]})})
    for (const host of ['lab-1', 'lab-2']) await b.around(host, 'nova-api', async () => void log.push(`swap ${host}`))
    expect(log.filter((l) => / warm |swap|lab-1: set server nova_api/.test(l))).toEqual([
      'lab-1: set server nova_api/lab-1 state drain',
      'swap lab-1',
      'lab-1: warm http://192.0.2.1 5000 8774 /v2.1/servers?limit=1',
      'lab-1: set server nova_api/lab-1 state ready',
      'lab-1: set server nova_api/lab-2 state drain',
      'swap lab-2',
      'lab-2: warm http://192.0.2.1 5000 8774 /v2.1/servers?limit=1',
      'lab-1: set server nova_api/lab-2 state ready',
    ])
    // The first asked keystone for a token (the password-auth body on stdin, never on a command line); the second reused it.
    expect(JSON.parse(inputs[0].split('\n')[1]).auth.identity.password.user).toEqual({name: 'admin', domain: {id: 'default'}, password: 'pw"1'})
    expect(inputs[0].startsWith('\n')).toBe(true)
    expect(inputs[1].startsWith('tok-8d1e\n')).toBe(true)
    expect(lbs.flatMap((h) => h.calls).some((c) => c.line.includes('pw"1') || c.line.includes('tok-8d1e'))).toBe(false)
    const warm = events.filter((e) => e.code === 'balancer.warm').map((e) => e.data)
    expect(warm.map((d) => [d.server, d.answers, d.error])).toEqual([
      ['lab-1', ['8774 200 0.812', '8774 200 0.795'], undefined],
      ['lab-2', ['8774 200 0.812', '8774 200 0.795'], undefined],
    ])
    expect(JSON.stringify(warm)).not.toContain('tok-8d1e')
  })

  it('a warm-up that fails still sets the backend ready and returns the swap; the event is a warning', async () => {
    const log: string[] = []
    const events: Array<{code: string; data: EventData['balancer.warm']}> = []
    const reporter = {emit: (code: string, data: EventData['balancer.warm']) => void events.push({code, data})}
    const host = lb('lab-1', log).on(/ docker exec -i keystone /, () => ({exitCode: 1, stderr: 'keystone at http://192.0.2.1:5000 issued no token\n'}))
    const b = new HaproxyBalancer(() => [host], reporter as never, {warmUp: warmUp({'lab-1': host})})
    expect(await b.around('lab-1', 'keystone', async () => 'healthy')).toBe('healthy')
    expect(log.at(-1)).toBe('lab-1: set server keystone/lab-1 state ready')
    const warm = events.find((e) => e.code === 'balancer.warm')!.data
    expect(warm.error).toBe('keystone at http://192.0.2.1:5000 issued no token')
    expect(levelOf('balancer.warm', warm)).toBe('warn')
    // A container whose frontends have no warm path (nova-metadata answers clients without a token) is not warmed.
    await b.around('lab-1', 'nova-metadata', async () => 'ok')
    expect(host.calls.filter((c) => c.line.includes('docker exec -i nova-metadata'))).toEqual([])
  })

  it('the script (real sh and curl): a token issued once, each warm path as many times at once as there are cores, with the token', async () => {
    const seen: Array<{method: string; url: string; token?: string; body?: string}> = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        seen.push({method: req.method!, url: req.url!, token: req.headers['x-auth-token'] as string | undefined, body})
        if (req.method === 'POST') res.writeHead(201, {'X-Subject-Token': 'tok-9'}).end('{}')
        else setTimeout(() => res.writeHead(req.headers['x-auth-token'] === 'tok-9' ? 200 : 401).end('{}'), 50)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    try {
      // The test server answers for keystone too.
      const r = await execa('sh', ['-c', WARM_SCRIPT, 'osctl-warm-up', 'http://127.0.0.1', String(port), String(port), '/v2.1/servers?limit=1', String(port), '/v3/auth/tokens'], {
        input: `\n${passwordAuthBody('admin', 's3cret', 'admin')}`,
        reject: false,
      })
      expect(r.exitCode, r.stderr).toBe(0)
      const n = Math.min(8, Math.max(2, Number((await execa('nproc')).stdout)))
      expect(r.stdout.split('\n')[0]).toBe('token tok-9')
      expect(r.stdout.split('\n').slice(1).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([...Array(n).fill(`${port} 200`), ...Array(n).fill(`${port} 200`)])
      expect(seen.filter((s) => s.method === 'POST').map((s) => JSON.parse(s.body!).auth.identity.password.user.password)).toEqual(['s3cret'])
      expect(seen.filter((s) => s.method === 'GET').map((s) => `${s.url} ${s.token}`)).toEqual([...Array(n).fill('/v2.1/servers?limit=1 tok-9'), ...Array(n).fill('/v3/auth/tokens tok-9')])
      // Given a token, it asks keystone for none.
      seen.length = 0
      const again = await execa('sh', ['-c', WARM_SCRIPT, 'osctl-warm-up', 'http://127.0.0.1', String(port), String(port), '/x'], {input: 'tok-9\n{}'})
      expect(again.stdout.startsWith('token')).toBe(false)
      expect(seen.map((s) => s.method)).toEqual(Array(n).fill('GET'))
    } finally {
      server.close()
    }
  })

  it('the weight wrap (real sh): the container is at the low weight while it warms up, back at the default after, even when the warm-up fails; stdin and exit code pass through', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osctl-warm-weight-'))
    try {
      // A docker that only logs its arguments.
      await writeFile(join(dir, 'docker'), `#!/bin/sh\necho "docker $*" >> ${join(dir, 'log')}\n`)
      await chmod(join(dir, 'docker'), 0o755)
      const env = {PATH: `${dir}:${process.env.PATH}`}
      const r = await execa('sh', ['-c', WARM_WEIGHT_WRAP, 'osctl-warm-weight', '128', 'nova-api', 'sh', '-c', `read -r l; echo "warm $l" >> ${join(dir, 'log')}; exit 3`], {input: 'tok\n', env, reject: false})
      expect(r.exitCode).toBe(3)
      expect((await readFile(join(dir, 'log'), 'utf8')).trim().split('\n')).toEqual(['docker update --cpu-shares 128 nova-api', 'warm tok', 'docker update --cpu-shares 1024 nova-api'])
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
