#!/usr/bin/env node
// Time from `openstack server create` to the first ping reply of its floating IP, seen from the
// network host, on a 1-host lab with the full catalog (neutron, nova-libvirt: qemu TCG where KVM
// does not boot guests). Also the full-catalog deploy time. Prints a markdown table of medians.
// Usage: npm run build && node bench/server-ping.mjs (BENCH_RUNS=3; BENCH_SITE=DIR reuses a deployed site
// whose post-deploy --init-network ran, with BENCH_LAB=its lab name; then the deploy is not timed)
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const LAB = `sp${process.pid}`
const reuse = process.env.BENCH_SITE
const site = reuse ?? mkdtempSync(join(tmpdir(), 'osctl-bench-ping-'))
const env = {...process.env, OSCTL_SITE: site, OS_CLIENT_CONFIG_FILE: join(site, 'clouds.yaml'), OS_CLOUD: 'osctl'}

const osctl = (args) => {
  const r = spawnSync('node', [BIN, ...args, '--quiet', '--json'], {encoding: 'utf8', env, maxBuffer: 64 << 20})
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stdout.slice(0, 4000)}\n${r.stderr.slice(-4000)}`)
  return JSON.parse(r.stdout)
}
const openstack = (...args) => execFileSync('openstack', args, {encoding: 'utf8', env}).trim()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const rows = {'server create → first ping of its floating IP': [], 'server create → ACTIVE': []}
let deploySeconds
try {
  if (!reuse) {
    osctl(['lab', 'up', '--hosts', '1', '--name', LAB, '--site', site, '--with-packages'])
    osctl(['bootstrap'])
    osctl(['image', 'build', '--push'])
    const t = performance.now()
    osctl(['deploy'])
    deploySeconds = (performance.now() - t) / 1000
    osctl(['post-deploy', '--init-network'])
  }
  // The network host: the lab's first host (BENCH_LAB names the lab of a reused site).
  const container = `osctl-${process.env.BENCH_LAB ?? LAB}-1`
  for (let i = 0; i < RUNS; i++) {
    const name = `bench-${process.pid}-${i}`
    const fip = openstack('floating', 'ip', 'create', 'public', '-f', 'value', '-c', 'floating_ip_address')
    const t = performance.now()
    openstack('server', 'create', '--image', 'osctl-guest', '--flavor', 'm1.tiny', '--network', 'private', '--wait', name, '-f', 'value', '-c', 'id')
    rows['server create → ACTIVE'].push((performance.now() - t) / 1000)
    openstack('server', 'add', 'floating', 'ip', name, fip)
    for (;;) {
      if (spawnSync('docker', ['exec', container, 'ping', '-c1', '-W1', fip]).status === 0) break
      if (performance.now() - t > 600_000) throw new Error(`${fip} of ${name} never answered`)
      await sleep(200)
    }
    rows['server create → first ping of its floating IP'].push((performance.now() - t) / 1000)
    openstack('server', 'delete', '--wait', name)
    openstack('floating', 'ip', 'delete', fip)
  }
} finally {
  if (!reuse) {
    spawnSync('node', [BIN, 'lab', 'down', '--name', LAB], {stdio: 'ignore'})
    rmSync(site, {recursive: true, force: true})
  }
}

console.log(`| figure (median of ${RUNS}) | s |`)
console.log('|---|---:|')
for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${median(v).toFixed(1)} |`)
if (deploySeconds !== undefined) console.log(`| full-catalog deploy (1 run) | ${deploySeconds.toFixed(1)} |`)
