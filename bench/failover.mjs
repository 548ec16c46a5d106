#!/usr/bin/env node
// What losing the VIP holder costs (issue 13): on an HA lab (3 control hosts behind internal_vip,
// everything deployed, e.g. `lab up --hosts 4 --control 3 --vip` + bootstrap + deploy), a client
// issues a keystone token and lists nova servers through the VIP back to back (3 s timeout each)
// while the lab container holding the VIP is `docker stop`ped. Per run: seconds until another host
// holds the VIP, failed requests, longest outage (first failure to the next success). The host is
// started again and the next run waits until it is back. Prints a markdown table of medians.
// Usage: BENCH_SITE=/path/to/site node bench/failover.mjs (BENCH_RUNS=3). Without nova on the
// site (e.g. enabled_services: [mariadb, memcached, rabbitmq, keystone]) the client issues tokens only;
// with tls.internal it speaks https with the site CA.
import {execFile} from 'node:child_process'
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
    const done = (ok, res) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      samples.push({at, end: Date.now(), ok})
      resolve(ok ? res : undefined)
    }
    const req = (TLS ? httpsRequest : httpRequest)(url, {method: init.method ?? 'GET', headers: init.headers, agent}, (res) => {
      res.resume()
      res.on('end', () => done(res.statusCode === want, res))
      res.on('error', () => done(false))
    })
    const timer = setTimeout(() => req.destroy(new Error('no answer within 3 s')), 3000)
    req.on('error', () => done(false))
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

// A site without nova (enabled_services): the client issues tokens only.
const NOVA = CONFIG.enabled_services === undefined || CONFIG.enabled_services.includes('nova')
console.error(`client: keystone token issue${NOVA ? ' + nova server list' : ' (no nova on this site)'} through ${VIP}, back to back, 3 s timeout`)
const rows = []
for (let i = 1; i <= RUNS; i++) {
  const [holder] = await holders()
  if (!holder) throw new Error(`no control host holds ${VIP}`)
  const samples = []
  let go = true
  const loop = client(samples, () => go)
  await sleep(3000)
  // The client works before the stop (a bench of a cloud that never answered would say nothing).
  if (!samples.some((s) => s.ok)) throw new Error(`no request through ${VIP} succeeded before the stop`)
  const stoppedAt = Date.now()
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
  // Every request that ended after the stop (the one in flight then included).
  const during = samples.filter((s) => s.end >= stoppedAt)
  rows.push({holder, moved: movedAt ? (movedAt - stoppedAt) / 1000 : Number.NaN, failed: during.filter((s) => !s.ok).length, requests: during.length, outage: outage(samples) / 1000})
  console.error(`run ${i}: ${holder} stopped; VIP moved after ${rows.at(-1).moved} s; ${rows.at(-1).failed} of ${rows.at(-1).requests} requests failed; longest outage ${rows.at(-1).outage} s`)
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
