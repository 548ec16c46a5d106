#!/usr/bin/env node
// keystone and nova-api upgrade and rollback on a 1-host lab: time of each command, the longest
// API outage a client sending a request every 50 ms sees during it (keystone GET /v3, nova-api
// GET / on :8774) and its slowest answer (issue 14 targets: nova-api upgrade ≤ 8 s, rollback ≤ 5 s; no outage, no slow answer). Prints a
// markdown table of medians.
// Usage: npm run build && node bench/service-upgrade.mjs (BENCH_RUNS=3, BENCH_SERVICES=keystone,nova-api)
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = process.env.BENCH_BIN ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const LAB = `bu${process.pid}`
// An existing lab's site (e.g. bench/deploy.mjs BENCH_KEEP_LAB=1, everything deployed): benched as it is, left up.
const GIVEN = process.env.BENCH_SITE
const site = GIVEN ?? mkdtempSync(join(tmpdir(), 'osctl-bench-up-'))
const env = {...process.env, OSCTL_SITE: site}

function osctl(args) {
  const r = spawnSync('node', [BIN, ...args, '--quiet', '--json'], {encoding: 'utf8', env})
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`)
}

/**
 * Runs `osctl args` while a client sends GET url every 50 ms, each request on its own (a slow one
 * does not hold back the next), with a 10 s timeout. Returns [seconds, longest outage, slowest
 * answer]: the outage is the longest stretch of requests that all failed (refused, reset, 5xx or
 * no answer in 10 s), from the first of them to the next one that succeeded.
 */
async function timedWithPolling(args, url) {
  let stop = false
  const samples = []
  const inflight = []
  const poller = (async () => {
    while (!stop) {
      const t = performance.now()
      inflight.push(
        fetch(url, {signal: AbortSignal.timeout(10_000)})
          .then((r) => r.status < 500)
          .catch(() => false)
          .then((ok) => samples.push({t, ok, ms: performance.now() - t})),
      )
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  const start = performance.now()
  // Asynchronous on purpose: the poller must keep running while osctl works.
  await new Promise((resolve, reject) => {
    const p = spawn('node', [BIN, ...args, '--quiet', '--json'], {env, stdio: ['ignore', 'pipe', 'inherit']})
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`osctl ${args.join(' ')} exited ${code}\n${out}`))))
  })
  const seconds = (performance.now() - start) / 1000
  await new Promise((r) => setTimeout(r, 500))
  stop = true
  await poller
  await Promise.all(inflight)
  samples.sort((a, b) => a.t - b.t)
  let worst = 0
  let down = null
  for (const s of samples) {
    if (!s.ok && down === null) down = s.t
    if (s.ok && down !== null) {
      worst = Math.max(worst, (s.t - down) / 1000)
      down = null
    }
  }
  if (down !== null) worst = Math.max(worst, (samples.at(-1).t - down) / 1000)
  const slowest = Math.max(0, ...samples.filter((s) => s.ok).map((s) => s.ms)) / 1000
  return [seconds, worst, slowest]
}

const SERVICES = (process.env.BENCH_SERVICES ?? 'keystone,nova-api').split(',')
// Seconds between an upgrade and its rollback (default 0: back to back). An operator rolls back after
// looking; with osctl.yml rollback_standby the previous container has loaded by then (BENCH_PAUSE=20).
const PAUSE = Number(process.env.BENCH_PAUSE ?? 0)
const NOVA = SERVICES.includes('nova-api')
/** What each benched service's API answers without a token, and the image it runs. */
const TARGETS = {keystone: {image: 'keystone', port: 5000, path: '/v3'}, 'nova-api': {image: 'nova-api', port: 8774, path: '/'}}
const rows = Object.fromEntries(SERVICES.flatMap((s) => [[`${s} upgrade`, []], [`${s} rollback`, []]]))
try {
  if (!GIVEN) {
    osctl(['lab', 'up', '--hosts', '1', '--name', LAB, '--site', site, '--with-packages'])
    osctl(['bootstrap'])
    const images = ['mariadb', 'memcached', 'rabbitmq', 'keystone', ...(NOVA ? ['placement-api', 'glance-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute', 'nova-libvirt'] : [])]
    osctl(['image', 'build', ...images, '--push'])
    osctl(['deploy', '--services', ['mariadb', 'memcached', 'rabbitmq', 'keystone', ...(NOVA ? ['placement', 'glance', 'nova', 'nova-libvirt', 'nova-compute'] : [])].join(',')])
  }
  const registry = /registry: (\S+)/.exec(readFileSync(join(site, 'osctl.yml'), 'utf8'))[1]
  const address = /address: (\S+)/.exec(readFileSync(join(site, 'inventory.yml'), 'utf8'))[1]
  for (const service of SERVICES) {
    const {image} = TARGETS[service]
    const ctx = mkdtempSync(join(tmpdir(), 'osctl-bench-img-'))
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${registry}/osctl/${image}:zed\nRUN echo bench > /etc/osctl-build\n`)
    execFileSync('docker', ['build', '-q', '-t', `${registry}/osctl/${image}:bench`, ctx])
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${registry}/osctl/${image}:bench`, `docker://${registry}/osctl/${image}:bench`])
    rmSync(ctx, {recursive: true, force: true})
  }
  for (let i = 0; i < RUNS; i++) {
    for (const service of SERVICES) {
      const url = `http://${address}:${TARGETS[service].port}${TARGETS[service].path}`
      rows[`${service} upgrade`].push(await timedWithPolling(['service', 'upgrade', service, '--tag', 'bench'], url))
      await new Promise((r) => setTimeout(r, PAUSE * 1000))
      rows[`${service} rollback`].push(await timedWithPolling(['service', 'rollback', service], url))
      const [u, r] = [rows[`${service} upgrade`].at(-1), rows[`${service} rollback`].at(-1)]
      process.stderr.write(`run ${i + 1}/${RUNS} ${service}: upgrade ${u[0].toFixed(2)} s, outage ${u[1].toFixed(2)} s, slowest ${u[2].toFixed(2)} s; rollback ${r[0].toFixed(2)} s, outage ${r[1].toFixed(2)} s, slowest ${r[2].toFixed(2)} s\n`)
    }
  }
} finally {
  if (!GIVEN) {
    spawnSync('node', [BIN, 'lab', 'down', '--name', LAB, '--quiet'])
    rmSync(site, {recursive: true, force: true})
  }
}
console.log(`| 1-host lab | median s | longest outage s (median) | worst outage s | slowest answer s (median) |  (${RUNS} runs; a request every 50 ms, 10 s timeout; rollback ${PAUSE} s after the upgrade)`)
console.log('|---|---:|---:|---:|---:|')
for (const [name, xs] of Object.entries(rows)) {
  console.log(`| ${name} | ${median(xs.map((x) => x[0])).toFixed(1)} | ${median(xs.map((x) => x[1])).toFixed(2)} | ${Math.max(...xs.map((x) => x[1])).toFixed(2)} | ${median(xs.map((x) => x[2])).toFixed(2)} |`)
}
