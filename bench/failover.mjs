#!/usr/bin/env node
// What losing the VIP holder costs (issue 13): on an HA lab (3 control hosts behind internal_vip,
// everything deployed, e.g. `lab up --hosts 4 --control 3 --vip` + bootstrap + deploy), a client
// issues a keystone token and lists nova servers through the VIP back to back (3 s timeout each)
// while the lab container holding the VIP is `docker stop`ped. Per run: seconds until another host
// holds the VIP, failed requests, longest outage (first failure to the next success). The host is
// started again and the next run waits until it is back: booted, its Galera node Synced, and every
// haproxy with every backend up (each run, the first too, starts with every API on every host).
// Prints a markdown table of medians.
// Usage: BENCH_SITE=/path/to/site node bench/failover.mjs (BENCH_RUNS=3). Without nova on the
// site (e.g. enabled_services: [mariadb, memcached, rabbitmq, keystone]) the client issues tokens only;
// with tls.internal it speaks https with the site CA.
// BENCH_TRACE=1: after each run, every failed request (kind, start and end from the stop, error,
// client port), this machine's neighbour entry for the VIP as it changed (every 100 ms), every ARP
// packet naming the VIP (tcpdump, as root), every control host's MAC, and the surviving hosts'
// keepalived and haproxy journal lines from the stop on: where a lost request went.
// BENCH_BACK=boot: a returned host counts as back once booted and Synced (the bench before
// 2026-12-07): the next stop can come while its APIs still load, two hosts short on purpose.
import {execFile, spawn} from 'node:child_process'
import {createInterface} from 'node:readline'
import {Agent as HttpAgent, request as httpRequest} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {promisify} from 'node:util'
import {parse} from 'yaml'
import {median} from './lib.mjs'

const SITE = process.env.BENCH_SITE
if (!SITE) {
  console.error('BENCH_SITE must name the site dir of a deployed HA lab (internal_vip, three control hosts)')
  process.exit(2)
}
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const TRACE = process.env.BENCH_TRACE === '1'
const read = (f) => readFileSync(join(SITE, f), 'utf8')
const CONFIG = parse(read('osctl.yml'))
const VIP = CONFIG.internal_vip
// tls.internal: haproxy ends TLS on the VIP with the site CA's certificate (osctl certificates).
const TLS = CONFIG.tls?.internal === true
const SCHEME = TLS ? 'https' : 'http'
// Keep-alive connections, as an API client keeps them.
const agent = TLS ? new HttpsAgent({keepAlive: true, ca: readFileSync(join(SITE, 'certificates', 'ca', 'ca.crt'))}) : new HttpAgent({keepAlive: true})
const PASSWORD = String(parse(read('passwords.yml')).keystone_admin_password)
// Lab hosts are the containers osctl-<name> (lab up); the control group lists them.
const CONTROL = parse(read('inventory.yml')).groups?.control ?? []
if (!VIP || CONTROL.length < 2) {
  console.error(`${SITE}: needs internal_vip in osctl.yml and at least two control hosts in inventory.yml`)
  process.exit(2)
}

// Never synchronous: the client's requests and timers must run while docker works.
const run = (cmd, args) => promisify(execFile)(cmd, args, {encoding: 'utf8'}).then((r) => ({ok: true, stdout: r.stdout}), (e) => ({ok: false, stdout: String(e.stdout ?? '')}))
const sh = (host, script) => run('docker', ['exec', `osctl-${host}`, 'sh', '-c', script])
const holders = async () => (await Promise.all(CONTROL.map(async (h) => ((await sh(h, `ip -o -4 addr show | grep -qw ${VIP}`)).ok ? [h] : [])))).flat()

/** One request, its body read; a status other than `want`, an error or no answer within 3 s fails. */
function request(samples, what, url, init, want) {
  const at = Date.now()
  return new Promise((resolve) => {
    let settled = false
    const done = (ok, res, error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      samples.push({at, end: Date.now(), ok, what, error: ok ? undefined : (error ?? `status ${res?.statusCode}`), local: port})
      resolve(ok ? res : undefined)
    }
    // The client port, read while the socket has one (a destroyed socket no longer says).
    let port
    const req = (TLS ? httpsRequest : httpRequest)(url, {method: init.method ?? 'GET', headers: init.headers, agent}, (res) => {
      res.resume()
      res.on('end', () => done(res.statusCode === want, res))
      res.on('error', (e) => done(false, undefined, e.message))
    })
    const timer = setTimeout(() => req.destroy(new Error('no answer within 3 s')), 3000)
    req.on('error', (e) => done(false, undefined, `${e.code ?? ''} ${e.message}`.trim()))
    req.on('socket', (sock) => {
      if (sock.localPort) port = sock.localPort
      else sock.once('connect', () => (port = sock.localPort))
    })
    req.end(init.body)
  })
}

async function client(samples, running) {
  const auth = {auth: {identity: {methods: ['password'], password: {user: {name: 'admin', domain: {id: 'default'}, password: PASSWORD}}}, scope: {project: {name: 'admin', domain: {id: 'default'}}}}}
  while (running()) {
    const t = await request(samples, 'token', `${SCHEME}://${VIP}:5000/v3/auth/tokens`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(auth)}, 201)
    const id = t?.headers['x-subject-token']
    if (id && NOVA) await request(samples, 'servers', `${SCHEME}://${VIP}:8774/v2.1/servers`, {headers: {'x-auth-token': id}}, 200)
    await sleep(100)
  }
}

function outage(samples) {
  let worst = 0
  let start
  for (const s of samples) {
    if (!s.ok && start === undefined) start = s.at
    if (s.ok && start !== undefined) {
      worst = Math.max(worst, s.at - start)
      start = undefined
    }
  }
  // Never answered again: no finite outage to report.
  return start === undefined ? worst : Number.POSITIVE_INFINITY
}

async function backUp(host) {
  await run('docker', ['start', `osctl-${host}`])
  for (let i = 0; i < 180; i++) {
    if ((await sh(host, 'systemctl is-active osctl-haproxy osctl-keepalived docker')).stdout.split('\n').filter((l) => l === 'active').length === 3) break
    await sleep(1000)
  }
  await sh(host, 'systemctl is-system-running --wait')
  // With Galera, the next run waits until this node caught up again (a node still joining would
  // make the next stop a different experiment).
  for (let i = 0; ; i++) {
    const r = await sh(host, `docker inspect mariadb >/dev/null 2>&1 || { echo Synced; exit 0; }; docker exec mariadb mariadb -N -B -e "SHOW STATUS LIKE 'wsrep_local_state_comment'"`)
    if (/Synced/.test(r.stdout)) break
    if (i >= 180) throw new Error(`${host}: its Galera node is not Synced 180 s after the host came back (${r.stdout.trim() || 'no answer'})`)
    await sleep(1000)
  }
}

/**
 * Waits until every haproxy has every backend up (BENCH_BACK=boot: not at all). A host whose APIs
 * still load (nova-api's app took 39 s after a boot beside the others) is not back, and stopping
 * another then is the loss of two hosts, not of one.
 */
async function allUp() {
  if (process.env.BENCH_BACK === 'boot') return
  const deadline = Date.now() + 300_000
  for (;;) {
    const down = (await Promise.all(CONTROL.map(async (h) => {
      const r = await sh(h, 'curl -sSf "http://127.0.0.1:8404/stats;csv"')
      if (!r.ok) return [`${h}: no stats`]
      const servers = r.stdout.split('\n').filter((l) => l && !l.startsWith('#') && !/^[^,]+,(FRONTEND|BACKEND),/.test(l))
      if (servers.length === 0) return [`${h}: no backend servers in its stats`]
      return servers.filter((l) => l.split(',')[17] !== 'UP').map((l) => `${h}: ${l.split(',')[0]}/${l.split(',')[1]} ${l.split(',')[17]}`)
    }))).flat()
    if (down.length === 0) return
    if (Date.now() > deadline) throw new Error(`haproxy backends not all up within 300 s: ${down.join(', ')}`)
    await sleep(1000)
  }
}

// A site without nova (enabled_services): the client issues tokens only.
const NOVA = CONFIG.enabled_services === undefined || CONFIG.enabled_services.includes('nova')
console.error(`client: keystone token issue${NOVA ? ' + nova server list' : ' (no nova on this site)'} through ${VIP}, back to back, 3 s timeout`)
const rows = []
for (let i = 1; i <= RUNS; i++) {
  await allUp()
  const [holder] = await holders()
  // Every control host's MAC while all run (the holder's is the one the neighbour entry leaves).
  const macs = TRACE ? await Promise.all(CONTROL.map(async (h) => `${h} ${(await sh(h, 'cat /sys/class/net/eth0/address')).stdout.trim()}`)) : []
  const runStart = Math.floor(Date.now() / 1000)
  if (!holder) throw new Error(`no control host holds ${VIP}`)
  const samples = []
  let go = true
  const loop = client(samples, () => go)
  await sleep(3000)
  // The client works before the stop (a bench of a cloud that never answered would say nothing):
  // up to 60 s more for a first answer; failures before the stop are counted on their own.
  for (let w = 0; w < 120 && !samples.some((s) => s.ok); w++) await sleep(500)
  if (!samples.some((s) => s.ok)) {
    const why = [...new Set(samples.map((s) => `${s.what}: ${s.error}`))].join('; ')
    if (TRACE) {
      for (const h of CONTROL) {
        const j = await sh(h, `journalctl -o short-precise --no-pager --since @${runStart} -u osctl-haproxy -u osctl-keepalived | grep -v WARNING | grep -vi gratuitous | tail -30`)
        for (const l of j.stdout.trim().split('\n').filter(Boolean)) console.error(`  ${h}| ${l.slice(0, 260)}`)
      }
    }
    throw new Error(`no request through ${VIP} succeeded before the stop (${why})`)
  }
  // The neighbour entry this machine uses for the VIP (lladdr and state), each change with its time.
  const neigh = []
  let watching = TRACE
  const watch = (async () => {
    while (watching) {
      const r = await run('ip', ['neigh', 'show', VIP])
      const line = r.stdout.trim()
      if (neigh.at(-1)?.line !== line) neigh.push({at: Date.now(), line})
      await sleep(100)
    }
  })()
  // And every ARP packet on the VIP's segment (tcpdump, when installed), with its time.
  const arp = []
  let dump
  if (TRACE) {
    const dev = /dev (\S+)/.exec((await run('ip', ['route', 'get', VIP])).stdout)?.[1]
    dump = spawn('tcpdump', ['-l', '-n', '-e', '-tt', '-i', String(dev), 'arp'], {stdio: ['ignore', 'pipe', 'pipe']})
    let said = ''
    dump.on('error', (e) => (said += e.message))
    dump.stderr.on('data', (b) => (said += String(b)))
    // tcpdump's own time stamps (seconds since the epoch), one line at a time.
    createInterface({input: dump.stdout}).on('line', (line) => {
      const at = Number(line.split(' ')[0]) * 1000
      if (new RegExp(`\\b${VIP.replaceAll('.', '\\.')}\\b`).test(line)) arp.push({at, line})
    })
    dump.on('exit', (code) => {
      if (watching) console.error(`  tcpdump ended early (exit ${code}): ${said.trim() || 'no reason given'}; no ARP trace for this run`)
    })
    // Listening before the stop, or not at all (its first stderr line says so).
    for (let w = 0; w < 40 && !/listening on/.test(said) && dump.exitCode === null; w++) await sleep(50)
  }
  const stoppedAt = Date.now()
  // Epoch seconds: journalctl reads a plain date in the host's own time zone.
  const since = Math.floor(stoppedAt / 1000) - 1
  const stopping = run('docker', ['stop', `osctl-${holder}`])
  let movedAt = 0
  // Only the other hosts are asked: a `docker exec` into the host shutting down can take seconds.
  const others = CONTROL.filter((h) => h !== holder)
  while (!movedAt && Date.now() - stoppedAt < 30_000) {
    const held = await Promise.all(others.map(async (h) => (await sh(h, `ip -o -4 addr show | grep -qw ${VIP}`)).ok))
    if (held.filter(Boolean).length === 1) movedAt = Date.now()
    else await sleep(100)
  }
  await stopping
  await sleep(5000)
  for (let i = 0; i < 100 && samples.length > 0 && !samples.at(-1).ok; i++) await sleep(100)
  go = false
  await loop
  watching = false
  await watch
  dump?.kill()
  // Every request that ended after the stop (the one in flight then included).
  const during = samples.filter((s) => s.end >= stoppedAt)
  // Failures that ended before the stop are counted apart (`before`); the outage starts at the
  // first failure after it (an outage already running then is cut to its part after the stop).
  const before = samples.filter((s) => !s.ok && s.end < stoppedAt).length
  rows.push({holder, moved: movedAt ? (movedAt - stoppedAt) / 1000 : Number.NaN, failed: during.filter((s) => !s.ok).length, requests: during.length, outage: outage(samples.filter((s) => s.end >= stoppedAt)) / 1000})
  console.error(`run ${i}: ${holder} stopped; VIP moved after ${rows.at(-1).moved} s; ${rows.at(-1).failed} of ${rows.at(-1).requests} requests failed; longest outage ${rows.at(-1).outage} s${before ? `; ${before} failed before the stop` : ''}`)
  if (TRACE) {
    const s = (ms) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(2)}s`
    for (const f of samples.filter((x) => !x.ok && x.end < stoppedAt)) console.error(`  failed BEFORE the stop ${f.what} ${s(f.at - stoppedAt)}..${s(f.end - stoppedAt)}: ${f.error}`)
    for (const f of during.filter((x) => !x.ok)) console.error(`  failed ${f.what} ${s(f.at - stoppedAt)}..${s(f.end - stoppedAt)} port ${f.local ?? '-'}: ${f.error}`)
    for (const n of neigh) console.error(`  neigh ${s(n.at - stoppedAt)} ${n.line || '(none)'}`)
    for (const a of arp.filter((x) => x.at - stoppedAt < 15_000)) console.error(`  arp ${s(a.at - stoppedAt)} ${a.line.replace(/^\S+ /, '').slice(0, 160)}`)
    console.error(`  macs: ${macs.join(', ')} (stopped: ${holder})`)
    for (const h of others) {
      const j = await sh(h, `{ journalctl -o short-precise --no-pager --since @${since} -u osctl-keepalived | grep -vi gratuitous; journalctl -o short-precise --no-pager --since @${since} -u osctl-haproxy | grep -v WARNING | tail -25; } | grep -v '^-- '`)
      for (const l of j.stdout.trim().split('\n').filter(Boolean)) console.error(`  ${h}| ${l.slice(0, 220)}`)
    }
  }
  await backUp(holder)
  await sleep(5000)
}

console.log(`| figure (${RUNS} runs, VIP holder docker stop) | median | min | max |`)
console.log('|---|---:|---:|---:|')
for (const [label, key] of [['VIP on another host after (s)', 'moved'], ['failed requests', 'failed'], ['longest outage (s)', 'outage']]) {
  const xs = rows.map((r) => r[key])
  console.log(`| ${label} | ${median(xs).toFixed(key === 'failed' ? 0 : 1)} | ${Math.min(...xs).toFixed(key === 'failed' ? 0 : 1)} | ${Math.max(...xs).toFixed(key === 'failed' ? 0 : 1)} |`)
}
console.log(`\nholders stopped: ${rows.map((r) => r.holder).join(', ')}`)
agent.destroy()
