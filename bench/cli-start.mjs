#!/usr/bin/env node
// Start-up time of the CLI: `osctl --help`, `osctl system --help` and `osctl config validate` on a
// 3-host site (target: ≤ 300 ms).
// Prints a markdown table of medians. Usage: npm run build && node bench/cli-start.mjs (BENCH_RUNS=15)
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 15)

// A validation-only command on a valid 3-host site (no host contacted): the site written here, passwords by genpwd.
const site = mkdtempSync(join(tmpdir(), 'osctl-bench-site-'))
writeFileSync(join(site, 'osctl.yml'), 'registry: 10.0.0.11:4000\nnetwork_interface: eth0\n')
writeFileSync(join(site, 'inventory.yml'), `defaults: {ssh_user: root, ssh_key: id_ed25519}
hosts: {ctl-1: {address: 10.0.0.11}, ctl-2: {address: 10.0.0.12}, cmp-1: {address: 10.0.0.21}}
groups: {deploy: [ctl-1], control: [ctl-1, ctl-2], compute: [cmp-1]}
`)
writeFileSync(join(site, 'id_ed25519'), '', {mode: 0o600})
const pwd = spawnSync('node', [BIN, 'genpwd', '--site', site, '--quiet'], {encoding: 'utf8'})
if (pwd.status !== 0) throw new Error(`genpwd: ${pwd.stderr}`)

const cases = [['--help'], ['system', '--help'], ['image', 'build', '--help'], ['--version'], ['config', 'validate', '--site', site]]
const rows = []
for (const args of cases) {
  const times = []
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
    times.push(performance.now() - start)
    if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  }
  rows.push([`osctl ${args.join(' ').replace(site, 'SITE')}`, median(times), Math.min(...times), Math.max(...times)])
}
rmSync(site, {recursive: true, force: true})
console.log(`| command | median ms | min ms | max ms |  (${RUNS} runs, node ${process.version})`)
console.log('|---|---:|---:|---:|')
for (const [c, m, lo, hi] of rows) console.log(`| ${c} | ${m.toFixed(0)} | ${lo.toFixed(0)} | ${hi.toFixed(0)} |`)
