#!/usr/bin/env node
// keystone upgrade and rollback on a 1-host lab: time of each command and the longest API outage a
// client polling GET /v3 every 50 ms sees during it (targets: rollback ≤ 10 s, outage ≤ 3 s).
// Prints a markdown table of medians. Usage: npm run build && node bench/service-upgrade.mjs (BENCH_RUNS=3)
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const LAB = `bu${process.pid}`
const site = mkdtempSync(join(tmpdir(), 'osctl-bench-up-'))
const env = {...process.env, OSCTL_SITE: site}

function osctl(args) {
  const r = spawnSync('node', [BIN, ...args, '--quiet', '--json'], {encoding: 'utf8', env})
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`)
}

/** Runs `osctl args` while polling url every 50 ms; returns [seconds, longest outage in seconds]. */
async function timedWithPolling(args, url) {
  let stop = false
  let down = null
  let worst = 0
  const poller = (async () => {
    while (!stop) {
      const t = performance.now()
      let ok = false
      try {
        ok = (await fetch(url, {signal: AbortSignal.timeout(1000)})).status < 500
      } catch {}
      if (!ok && down === null) down = t
      if (ok && down !== null) {
        worst = Math.max(worst, (t - down) / 1000)
        down = null
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (performance.now() - t))))
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
  if (down !== null) worst = Math.max(worst, (performance.now() - down) / 1000)
  return [seconds, worst]
}

const rows = {upgrade: [], rollback: []}
try {
  osctl(['lab', 'up', '--hosts', '1', '--name', LAB, '--site', site, '--with-packages'])
  osctl(['bootstrap'])
  osctl(['image', 'build', 'mariadb', 'memcached', 'rabbitmq', 'keystone', '--push'])
  osctl(['deploy', '--services', 'mariadb,memcached,rabbitmq,keystone'])
  const registry = /registry: (\S+)/.exec(readFileSync(join(site, 'osctl.yml'), 'utf8'))[1]
  const address = /address: (\S+)/.exec(readFileSync(join(site, 'inventory.yml'), 'utf8'))[1]
  const ctx = mkdtempSync(join(tmpdir(), 'osctl-bench-img-'))
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${registry}/osctl/keystone:zed\nRUN echo bench > /etc/osctl-build\n`)
  execFileSync('docker', ['build', '-q', '-t', `${registry}/osctl/keystone:bench`, ctx])
  execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${registry}/osctl/keystone:bench`, `docker://${registry}/osctl/keystone:bench`])
  rmSync(ctx, {recursive: true, force: true})
  const url = `http://${address}:5000/v3`
  for (let i = 0; i < RUNS; i++) {
    rows.upgrade.push(await timedWithPolling(['service', 'upgrade', 'keystone', '--tag', 'bench'], url))
    rows.rollback.push(await timedWithPolling(['service', 'rollback', 'keystone'], url))
    process.stderr.write(`run ${i + 1}/${RUNS}: upgrade ${rows.upgrade.at(-1).map((x) => x.toFixed(2)).join(' s, outage ')} s; rollback ${rows.rollback.at(-1).map((x) => x.toFixed(2)).join(' s, outage ')} s\n`)
  }
} finally {
  spawnSync('node', [BIN, 'lab', 'down', '--name', LAB, '--quiet'])
  rmSync(site, {recursive: true, force: true})
}
console.log(`| keystone (1 host) | median s | longest outage s (median) | worst outage s |  (${RUNS} runs, polling /v3 every 50 ms)`)
console.log('|---|---:|---:|---:|')
for (const [name, xs] of Object.entries(rows)) {
  console.log(`| ${name} | ${median(xs.map((x) => x[0])).toFixed(1)} | ${median(xs.map((x) => x[1])).toFixed(2)} | ${Math.max(...xs.map((x) => x[1])).toFixed(2)} |`)
}
