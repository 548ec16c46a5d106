#!/usr/bin/env node
// Start-up time of the CLI: `osctl --help` and `osctl system --help` (target: --help ≤ 300 ms).
// Prints a markdown table of medians. Usage: npm run build && node bench/cli-start.mjs (BENCH_RUNS=15)
import {spawnSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 15)

const cases = [['--help'], ['system', '--help'], ['image', 'build', '--help'], ['--version']]
const rows = []
for (const args of cases) {
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
    times.push(performance.now() - start)
    if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  }
  rows.push([`osctl ${args.join(' ')}`, median(times), Math.min(...times), Math.max(...times)])
}
console.log(`| command | median ms | min ms | max ms |  (${RUNS} runs, node ${process.version})`)
console.log('|---|---:|---:|---:|')
for (const [c, m, lo, hi] of rows) console.log(`| ${c} | ${m.toFixed(0)} | ${lo.toFixed(0)} | ${hi.toFixed(0)} |`)
