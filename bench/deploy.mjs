#!/usr/bin/env node
// All-in-one deploy time from a bootstrapped lab host with the images already in the site registry
// (target ≤ 180 s on 2 cores) and the no-op redeploy (target ≤ 10 s), with the deploy's critical
// path (criticalPathMs: the services' own work along their dependencies, the floor no orchestrator
// beats) beside osctl's wall time as a ratio.
// Prints a markdown table of medians. Usage: npm run build && node bench/deploy.mjs (BENCH_RUNS=1)
import {spawnSync} from 'node:child_process'
import {appendFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 1)
// No-op redeploys after each deploy (each one a sample of the no-op median).
const NOOPS = Number(process.env.BENCH_NOOP_RUNS ?? 1)
// Leave the last run's lab up (for profiling the no-op: OSCTL_SITE=<site> node bin/run.js deploy); lab down it by hand.
const KEEP = process.env.BENCH_KEEP_LAB === '1'
const LAB = process.env.BENCH_LAB ?? `bd${process.pid}`
// A smaller catalog (osctl.yml enabled_services), e.g. issue 14's keystone+glance+placement+nova:
// BENCH_SERVICES=mariadb,memcached,rabbitmq,keystone,glance,placement,nova,nova-compute BENCH_DRIVER=fake
const SERVICES = process.env.BENCH_SERVICES?.split(',').filter(Boolean)
const DRIVER = process.env.BENCH_DRIVER
// Also a deploy with the images already on the host (BENCH_ON_HOST=1): after the no-ops, `osctl destroy`
// removes every service (the host keeps its images) and deploy runs again: the pulls' share of the first.
const ON_HOST = process.env.BENCH_ON_HOST === '1'
// Where to append each first deploy's events (its stderr, one JSON line each, with times): BENCH_EVENTS=/tmp/events.jsonl
const EVENTS = process.env.BENCH_EVENTS

// The machine's busy CPU seconds so far (/proc/stat: user, nice, system, irq, softirq). Lab hosts are
// containers on this machine, so a deploy's CPU seconds are the services' and osctl's work, which
// on a machine of few cores bounds its wall time from below (CPU seconds / cores); steadier than
// the wall time when the hour is busy, as long as nothing else runs beside the bench.
function busySeconds() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number)
  const idle = ticks[3] + ticks[4]
  return (ticks.slice(0, 7).reduce((a, b) => a + b, 0) - idle) / 100
}

function osctl(args, env) {
  const start = performance.now()
  const r = spawnSync('node', [BIN, ...args, '--json'], {encoding: 'utf8', env: {...process.env, ...env}})
  const seconds = (performance.now() - start) / 1000
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-2000)}`)
  return {seconds, stderr: r.stderr, json: () => JSON.parse(r.stdout)}
}

const first = []
const floor = []
const noop = []
const cpu = []
const onHost = []
const onHostCpu = []
for (let i = 0; i < RUNS; i++) {
  const site = mkdtempSync(join(tmpdir(), 'osctl-bench-deploy-'))
  const env = {OSCTL_SITE: site}
  try {
    osctl(['lab', 'up', '--hosts', '1', '--name', LAB, '--site', site, '--with-packages', '--quiet'], env)
    if (SERVICES) appendFileSync(join(site, 'osctl.yml'), `enabled_services: [${SERVICES.join(', ')}]\n`)
    if (DRIVER) appendFileSync(join(site, 'osctl.yml'), `nova_compute_driver: ${DRIVER}\n`)
    osctl(['bootstrap', '--quiet'], env)
    osctl(['image', 'build', '--push', '--quiet'], env)
    const cpuBefore = busySeconds()
    const d = osctl(['deploy'], env)
    cpu.push(busySeconds() - cpuBefore)
    first.push(d.seconds)
    if (EVENTS) appendFileSync(EVENTS, d.stderr)
    floor.push(d.json().criticalPathMs / 1000)
    const steps = d.json().services.flatMap((r) => r.timings).map((t) => `${t.service} ${t.step} ${(t.ms / 1000).toFixed(1)}`)
    process.stderr.write(`  services' own work (s): ${steps.join(', ')}\n`)
    const noops = []
    for (let n = 0; n < NOOPS; n++) noops.push(osctl(['deploy', '--quiet'], env).seconds)
    noop.push(...noops)
    if (ON_HOST) {
      osctl(['destroy', '--yes-i-really-really-mean-it', '--quiet'], env)
      const before = busySeconds()
      onHost.push(osctl(['deploy', '--quiet'], env).seconds)
      onHostCpu.push(busySeconds() - before)
      process.stderr.write(`  again with the images on the host: ${onHost.at(-1).toFixed(1)} s, machine CPU ${onHostCpu.at(-1).toFixed(1)} s\n`)
    }
    process.stderr.write(`run ${i + 1}/${RUNS}: deploy ${first.at(-1).toFixed(1)} s (critical path ${floor.at(-1).toFixed(1)} s, machine CPU ${cpu.at(-1).toFixed(1)} s), no-op ${noops.map((s) => s.toFixed(1)).join(', ')} s\n`)
  } finally {
    if (KEEP && i === RUNS - 1) process.stderr.write(`lab ${LAB} kept: OSCTL_SITE=${site}; end it with: node bin/run.js lab down --name ${LAB}\n`)
    else {
      spawnSync('node', [BIN, 'lab', 'down', '--name', LAB, '--quiet'])
      rmSync(site, {recursive: true, force: true})
    }
  }
}
console.log(`| all-in-one (1 lab host${SERVICES ? `; ${SERVICES.join(', ')}${DRIVER ? `, ${DRIVER} driver` : ''}` : ', full catalog'}) | median s |  (${RUNS} run(s))`)
console.log('|---|---:|')
console.log(`| deploy, images in the registry | ${median(first).toFixed(1)} |`)
console.log(`| its critical path (services' own work along their dependencies) | ${median(floor).toFixed(1)} |`)
console.log(`| ratio: osctl wall time / critical path | ${median(first.map((s, i) => s / floor[i])).toFixed(2)} |`)
console.log(`| machine CPU during the deploy (CPU seconds; ${cpus().length} cores) | ${median(cpu).toFixed(1)} |`)
console.log(`| no-op redeploy (${noop.length} samples) | ${median(noop).toFixed(1)} |`)
if (ON_HOST) {
  console.log(`| deploy after \`osctl destroy\`, images already on the host | ${median(onHost).toFixed(1)} |`)
  console.log(`| machine CPU during that deploy (CPU seconds) | ${median(onHostCpu).toFixed(1)} |`)
}
