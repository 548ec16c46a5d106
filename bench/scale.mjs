#!/usr/bin/env node
// Scale (issue 14): the same cloud on 1 host and on BENCH_HOSTS hosts (default 20: 3 control +
// 17 compute, nova's fake driver so memory stays bounded): lab up, bootstrap, deploy, a no-op
// redeploy and a rolling `service upgrade nova-compute --serial 5`, each timed, with the ratio of
// the big lab to the small one (target: bootstrap + deploy ≤ 2.0×, no-op ≤ 4 s) and the machine's
// lowest MemAvailable while the big lab ran. Images must be built (any site on this machine: the
// content is reused, only pushed). Prints a markdown table (one run each: BENCH_RUNS is not read).
// The deploy rows also give its critical path, when its first service step or container started and
// when its last image download ended (from --progress json events; BENCH_EVENTS_DIR=DIR keeps them).
// Usage: npm run build && node bench/scale.mjs   (BENCH_HOSTS=20 BENCH_CONTROL=3; BENCH_KEEP_LAB=1 leaves the big lab up)
import {spawnSync} from 'node:child_process'
import {appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const HOSTS = Number(process.env.BENCH_HOSTS ?? 20)
const CONTROL = Number(process.env.BENCH_CONTROL ?? 3)
const SERVICES = '[mariadb, memcached, rabbitmq, keystone, glance, placement, nova, nova-compute]'
const IMAGES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute']

function osctl(args, env) {
  const start = performance.now()
  const startedAt = Date.now()
  const r = spawnSync('node', [BIN, ...args, '--json'], {encoding: 'utf8', env: {...process.env, ...env}, maxBuffer: 256 * 1024 * 1024})
  const seconds = (performance.now() - start) / 1000
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-3000)}`)
  return {seconds, startedAt, stderr: r.stderr, json: () => JSON.parse(r.stdout)}
}

/**
 * A deploy's own figures from its result and its NDJSON events (--progress json on stderr), in s
 * from the process start: the critical path, when the first service step or container started,
 * when the last download of an image a host lacked ended (and how many there were).
 */
function deployFigures(r) {
  const events = r.stderr.split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l)]
    } catch {
      return []
    }
  })
  const at = (codes) => events.filter((e) => codes.includes(e.code)).map((e) => (Date.parse(e.time) - r.startedAt) / 1000)
  const work = at(['service.step.start', 'service.container.replace'])
  const pulls = at(['image.pulled'])
  return {
    criticalPath: r.json().criticalPathMs / 1000,
    firstWork: work.length ? Math.min(...work) : NaN,
    pullsEnd: pulls.length ? Math.max(...pulls) : NaN,
    pulls: pulls.length,
    events,
  }
}

const memAvailableMiB = () => Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) / 1024

/** One lab of `hosts` hosts through every step; returns seconds per step and the lowest MemAvailable seen between steps. */
function run(hosts) {
  const control = Math.min(CONTROL, hosts)
  const lab = `sc${hosts}x${process.pid}`
  const site = mkdtempSync(join(tmpdir(), 'osctl-bench-scale-'))
  const env = {OSCTL_SITE: site}
  const t = {}
  let lowest = memAvailableMiB()
  const figures = {}
  const step = (name, args) => {
    const r = osctl(args, env)
    t[name] = r.seconds
    if (args[0] === 'deploy') {
      figures[name] = deployFigures(r)
      if (process.env.BENCH_EVENTS_DIR) mkdirSync(process.env.BENCH_EVENTS_DIR, {recursive: true})
      if (process.env.BENCH_EVENTS_DIR) writeFileSync(join(process.env.BENCH_EVENTS_DIR, `scale-${hosts}-${name.replace(/\W+/g, '-')}.ndjson`), figures[name].events.map((e) => JSON.stringify(e)).join('\n') + '\n')
    }
    lowest = Math.min(lowest, memAvailableMiB())
    const g = figures[name]
    const more = g ? `; critical path ${g.criticalPath.toFixed(1)} s, first step/container at ${g.firstWork.toFixed(1)} s, ${g.pulls} downloads ended at ${g.pullsEnd.toFixed(1)} s` : ''
    process.stderr.write(`  ${hosts} host(s): ${name} ${t[name].toFixed(1)} s${more} (MemAvailable ${memAvailableMiB().toFixed(0)} MiB)\n`)
  }
  try {
    step('lab up', ['lab', 'up', '--hosts', String(hosts), '--control', String(control), '--name', lab, '--site', site, '--with-packages', '--quiet'])
    appendFileSync(join(site, 'osctl.yml'), `nova_compute_driver: fake\nenabled_services: ${SERVICES}\n`)
    step('bootstrap', ['bootstrap', '--quiet'])
    step('image push', ['image', 'build', ...IMAGES, '--push', '--quiet'])
    step('deploy', ['deploy', '--progress', 'json'])
    step('no-op deploy', ['deploy', '--progress', 'json'])
    step('image push (tag)', ['image', 'build', 'nova-compute', '--tag', `s${process.pid}`, '--push', '--quiet'])
    step('nova-compute upgrade --serial 5', ['service', 'upgrade', 'nova-compute', '--tag', `s${process.pid}`, '--serial', '5', '--quiet'])
    return {t, lowest, figures}
  } finally {
    if (process.env.BENCH_KEEP_LAB === '1' && hosts === HOSTS) process.stderr.write(`  kept lab ${lab} (site ${site}): node bin/run.js lab down --name ${lab}\n`)
    else {
      spawnSync('node', [BIN, 'lab', 'down', '--name', lab, '--quiet'], {stdio: 'ignore'})
      rmSync(site, {recursive: true, force: true})
    }
  }
}

const before = memAvailableMiB()
const small = run(1)
const big = run(HOSTS)
const rows = ['lab up', 'bootstrap', 'deploy', 'no-op deploy', 'nova-compute upgrade --serial 5']
console.log(`| figure | 1 host | ${HOSTS} hosts (${Math.min(CONTROL, HOSTS)} control) | ratio |`)
console.log('|---|---:|---:|---:|')
for (const r of rows) console.log(`| ${r} | ${small.t[r].toFixed(1)} s | ${big.t[r].toFixed(1)} s | ${(big.t[r] / small.t[r]).toFixed(2)} |`)
const f = (x, name, key) => x.figures[name][key]
console.log(`| deploy: critical path (criticalPathMs) | ${f(small, 'deploy', 'criticalPath').toFixed(1)} s | ${f(big, 'deploy', 'criticalPath').toFixed(1)} s | |`)
console.log(`| deploy: first service step or container started at | ${f(small, 'deploy', 'firstWork').toFixed(1)} s | ${f(big, 'deploy', 'firstWork').toFixed(1)} s | |`)
console.log(`| deploy: last image download ended at (downloads) | ${f(small, 'deploy', 'pullsEnd').toFixed(1)} s (${f(small, 'deploy', 'pulls')}) | ${f(big, 'deploy', 'pullsEnd').toFixed(1)} s (${f(big, 'deploy', 'pulls')}) | |`)
const sum = (x) => x.t.bootstrap + x.t.deploy
console.log(`| bootstrap + deploy | ${sum(small).toFixed(1)} s | ${sum(big).toFixed(1)} s | ${(sum(big) / sum(small)).toFixed(2)} |`)
console.log(`| lowest MemAvailable (before: ${before.toFixed(0)} MiB) | ${small.lowest.toFixed(0)} MiB | ${big.lowest.toFixed(0)} MiB | |`)
