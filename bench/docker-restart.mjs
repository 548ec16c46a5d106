#!/usr/bin/env node
// `systemctl restart docker` on a 1-host lab running mariadb, memcached, rabbitmq and keystone
// (what a Docker package upgrade does): how long the engine is away, when keystone answers a
// token issue again (a POST /v3/auth/tokens: keystone, mariadb and memcached all answer it), the
// longest stretch of failed token requests, and that no container was recreated and no unit
// restarted. A client sends token requests back to back (5 s timeout each) from the moment the
// restart begins. Prints a markdown table of medians.
// Usage: npm run build && node bench/docker-restart.mjs (BENCH_RUNS=3)
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const LAB = `br${process.pid}`
const HOST = `osctl-${LAB}-1`
const CONTAINERS = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
const site = mkdtempSync(join(tmpdir(), 'osctl-bench-restart-'))
const env = {...process.env, OSCTL_SITE: site}

function osctl(args) {
  const r = spawnSync('node', [BIN, ...args, '--quiet', '--json'], {encoding: 'utf8', env})
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-2000)}`)
}
const onHost = (script) => spawnSync('docker', ['exec', HOST, 'sh', '-c', script], {encoding: 'utf8'}).stdout
/** Container ids and start times, and each unit's activation time and restart count. */
const state = () =>
  onHost(`docker inspect -f '{{.Name}} {{.Id}} {{.State.StartedAt}}' ${CONTAINERS.join(' ')}; systemctl show -p Id,ActiveEnterTimestampMonotonic,NRestarts ${CONTAINERS.map((c) => `osctl-svc-${c}`).join(' ')}`)

async function oneRestart(url, auth) {
  const before = state()
  const samples = []
  const t0 = performance.now()
  let restarted = null
  const restart = new Promise((resolve, reject) => {
    const p = spawn('docker', ['exec', HOST, 'systemctl', 'restart', 'docker.service'], {stdio: 'ignore'})
    p.on('close', (code) => (code === 0 ? resolve((restarted = (performance.now() - t0) / 1000)) : reject(new Error(`systemctl restart docker exited ${code}`))))
  })
  // Until the engine is back and keystone answered a token request sent after that, or 120 s.
  while (performance.now() - t0 < 120_000) {
    const t = (performance.now() - t0) / 1000
    const ok = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: auth, signal: AbortSignal.timeout(5000)})
      .then(async (r) => (await r.arrayBuffer(), r.status === 201))
      .catch(() => false)
    samples.push({t, ok})
    if (ok && restarted !== null && t > restarted) break
  }
  await restart
  const lastFailure = samples.findLast((s) => !s.ok)
  const again = samples.find((s) => s.ok && (!lastFailure || s.t > lastFailure.t))
  const afterEngine = samples.find((s) => s.ok && s.t > restarted)
  let outage = 0
  let down = null
  for (const s of samples) {
    if (!s.ok && down === null) down = s.t
    if (s.ok && down !== null) {
      outage = Math.max(outage, s.t - down)
      down = null
    }
  }
  const after = state()
  const changed = (re) => before.split('\n').filter((l) => re.test(l) && !after.split('\n').includes(l)).length
  return {restart: restarted, again: again?.t ?? NaN, afterEngine: afterEngine?.t ?? NaN, outage, failed: samples.filter((s) => !s.ok).length, recreated: changed(/^\//), unitsRestarted: changed(/^ActiveEnter/)}
}

const runs = []
try {
  osctl(['lab', 'up', '--hosts', '1', '--name', LAB, '--site', site, '--with-packages'])
  osctl(['bootstrap'])
  osctl(['image', 'build', ...CONTAINERS, '--push'])
  osctl(['deploy', '--services', CONTAINERS.join(',')])
  const address = /address: (\S+)/.exec(readFileSync(join(site, 'inventory.yml'), 'utf8'))[1]
  const password = /^keystone_admin_password: *(\S+)/m.exec(readFileSync(join(site, 'passwords.yml'), 'utf8'))[1]
  const auth = JSON.stringify({auth: {identity: {methods: ['password'], password: {user: {name: 'admin', domain: {id: 'default'}, password}}}, scope: {project: {name: 'admin', domain: {id: 'default'}}}}})
  for (let i = 0; i < RUNS; i++) {
    const r = await oneRestart(`http://${address}:5000/v3/auth/tokens`, auth)
    runs.push(r)
    process.stderr.write(`run ${i + 1}/${RUNS}: engine away ${r.restart.toFixed(2)} s, keystone answering ${r.again.toFixed(2)} s, first token after the engine is back ${r.afterEngine.toFixed(2)} s, longest outage ${r.outage.toFixed(2)} s (${r.failed} failed), ${r.recreated} containers recreated, ${r.unitsRestarted} units restarted\n`)
    await new Promise((resolve) => setTimeout(resolve, 5000))
  }
} finally {
  spawnSync('node', [BIN, 'lab', 'down', '--name', LAB, '--quiet'])
  rmSync(site, {recursive: true, force: true})
}
const m = (k, digits = 2) => median(runs.map((r) => r[k])).toFixed(digits)
console.log(`| 1-host lab, \`systemctl restart docker\` | median (${RUNS} runs) | worst |`)
console.log('|---|---:|---:|')
console.log(`| engine away (the restart command) s | ${m('restart')} | ${Math.max(...runs.map((r) => r.restart)).toFixed(2)} |`)
console.log(`| keystone answers a token issue again s (after its last failed request; first request when none failed) | ${m('again')} | ${Math.max(...runs.map((r) => r.again)).toFixed(2)} |`)
console.log(`| first token issued after the engine is back s | ${m('afterEngine')} | ${Math.max(...runs.map((r) => r.afterEngine)).toFixed(2)} |`)
console.log(`| longest keystone outage s | ${m('outage')} | ${Math.max(...runs.map((r) => r.outage)).toFixed(2)} |`)
console.log(`| failed token requests | ${m('failed', 0)} | ${Math.max(...runs.map((r) => r.failed))} |`)
console.log(`| containers recreated, units restarted (of 4) | ${Math.max(...runs.map((r) => r.recreated))}, ${Math.max(...runs.map((r) => r.unitsRestarted))} | |`)
