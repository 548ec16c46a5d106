#!/usr/bin/env node
// Times `osctl lab up` and `osctl lab down` for 1 and 5 hosts and prints a markdown table of medians.
// Images are warmed first (one untimed run), so the numbers are what a developer sees day to day.
// Usage: npm run build && node bench/lab-up.mjs   (BENCH_RUNS=3, BENCH_HOSTS=1,5, BENCH_WITH_PACKAGES=1)
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const SIZES = (process.env.BENCH_HOSTS ?? '1,5').split(',').map(Number)
const EXTRA = process.env.BENCH_WITH_PACKAGES === '1' ? ['--with-packages'] : []
const LAB = `bench${process.pid}`

function osctl(args) {
  const start = performance.now()
  const r = spawnSync('node', [BIN, ...args, '--quiet', '--json'], {encoding: 'utf8'})
  const seconds = (performance.now() - start) / 1000
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`)
  return seconds
}


const site = mkdtempSync(join(tmpdir(), 'osctl-bench-site-'))
const rows = []
try {
  process.stderr.write('warming images (untimed)…\n')
  osctl(['lab', 'up', '--hosts', '1', '--site', site, '--name', LAB, ...EXTRA])
  osctl(['lab', 'down', '--name', LAB])
  for (const n of SIZES) {
    const up = []
    const down = []
    for (let i = 0; i < RUNS; i++) {
      // A fresh site each run: `lab up` on an existing site would only measure the reuse path.
      rmSync(site, {recursive: true, force: true})
      up.push(osctl(['lab', 'up', '--hosts', String(n), '--site', site, '--name', LAB, ...EXTRA]))
      down.push(osctl(['lab', 'down', '--name', LAB]))
      process.stderr.write(`N=${n} run ${i + 1}/${RUNS}: up ${up.at(-1).toFixed(2)} s, down ${down.at(-1).toFixed(2)} s\n`)
    }
    rows.push([n, median(up), median(down), Math.min(...up), Math.max(...up)])
  }
} finally {
  spawnSync('node', [BIN, 'lab', 'down', '--name', LAB, '--quiet'])
  rmSync(site, {recursive: true, force: true})
}

console.log(`lab up / lab down, median of ${RUNS} runs (seconds)${EXTRA.length ? ', --with-packages' : ''}\n`)
console.log('| hosts | up (median) | down (median) | up min | up max |')
console.log('|------:|------------:|--------------:|-------:|-------:|')
for (const [n, up, down, min, max] of rows) console.log(`| ${n} | ${up.toFixed(2)} | ${down.toFixed(2)} | ${min.toFixed(2)} | ${max.toFixed(2)} |`)
