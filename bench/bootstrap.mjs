#!/usr/bin/env node
// Bootstrap time for 1 and 5 lab hosts with host packages pre-installed (targets: 1 host ≤ 20 s,
// 5 hosts ≤ 1.5× one host), no-op re-bootstrap, and system upgrade / rollback of etcd (target
// rollback ≤ 3 s). Prints a markdown table of medians.
// Usage: npm run build && node bench/bootstrap.mjs   (BENCH_RUNS=3, BENCH_HOSTS=1,5)
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const SIZES = (process.env.BENCH_HOSTS ?? '1,5').split(',').map(Number)
const LAB = `bb${process.pid}`

function osctl(args, env = {}) {
  const start = performance.now()
  const r = spawnSync('node', [BIN, ...args, '--quiet', '--json'], {encoding: 'utf8', env: {...process.env, ...env}})
  const seconds = (performance.now() - start) / 1000
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`)
  return seconds
}

const rows = []
const site = mkdtempSync(join(tmpdir(), 'osctl-bench-boot-'))
const env = {OSCTL_SITE: site}
try {
  for (const n of SIZES) {
    const first = []
    const noop = []
    const upgrade = []
    const rollback = []
    for (let i = 0; i < RUNS; i++) {
      rmSync(site, {recursive: true, force: true})
      osctl(['lab', 'up', '--hosts', String(n), '--site', site, '--name', LAB, '--with-packages'])
      first.push(osctl(['bootstrap'], env))
      noop.push(osctl(['bootstrap'], env))
      // Each lab has a new registry: push the second tag into it (built once, then unchanged).
      osctl(['image', 'build', 'etcd', '--tag', 'bench-2', '--push'], env)
      upgrade.push(osctl(['system', 'upgrade', 'etcd', '--tag', 'bench-2'], env))
      rollback.push(osctl(['system', 'rollback', 'etcd'], env))
      osctl(['lab', 'down', '--name', LAB])
      process.stderr.write(`N=${n} run ${i + 1}/${RUNS}: bootstrap ${first.at(-1).toFixed(1)} s, no-op ${noop.at(-1).toFixed(1)} s, upgrade ${upgrade.at(-1).toFixed(1)} s, rollback ${rollback.at(-1).toFixed(1)} s\n`)
    }
    rows.push([n, median(first), median(noop), median(upgrade), median(rollback)])
  }
} finally {
  spawnSync('node', [BIN, 'lab', 'down', '--name', LAB, '--quiet'])
  rmSync(site, {recursive: true, force: true})
}
console.log(`| hosts | bootstrap s | no-op bootstrap s | etcd upgrade s | etcd rollback s |  (medians of ${RUNS})`)
console.log('|---:|---:|---:|---:|---:|')
for (const [n, a, b, c, d] of rows) console.log(`| ${n} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${c.toFixed(1)} | ${d.toFixed(1)} |`)
if (rows.length === 2) console.log(`\n5-host / 1-host bootstrap ratio: ${(rows[1][1] / rows[0][1]).toFixed(2)} (target ≤ 1.5)`)
