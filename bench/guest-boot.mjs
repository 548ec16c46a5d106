#!/usr/bin/env node
// The test guest (osctl image guest): build time cold (empty cache) and cached, then boot time
// under qemu from its disk — TCG always, KVM too when /dev/kvm is usable: from starting qemu to the
// init's first console line (boot to init) and to its `ready` line (after DHCP and the metadata
// try; user-mode network restricted, so the fetch fails fast). Prints a markdown table of medians.
// Usage: npm run build && node bench/guest-boot.mjs (BENCH_RUNS=3)
import {spawn, spawnSync} from 'node:child_process'
import {accessSync, constants, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'run.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const work = mkdtempSync(join(tmpdir(), 'osctl-bench-guest-'))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function build(cacheDir) {
  const t = performance.now()
  const r = spawnSync('node', [BIN, 'image', 'guest', '--json', '--quiet'], {encoding: 'utf8', env: {...process.env, OSCTL_CACHE_DIR: cacheDir}})
  if (r.status !== 0) throw new Error(`osctl image guest exited ${r.status}\n${r.stdout}\n${r.stderr}`)
  return {seconds: (performance.now() - t) / 1000, image: JSON.parse(r.stdout).image}
}

async function boot(disk, accel, n) {
  const log = join(work, `console-${accel}-${n}.log`)
  const t = performance.now()
  const q = spawn('qemu-system-x86_64', ['-accel', accel, ...(accel === 'kvm' ? ['-cpu', 'host'] : []), '-m', '256', '-nographic', '-monitor', 'none', '-serial', `file:${log}`,
    '-drive', `file=${disk},if=virtio,format=qcow2,snapshot=on`, '-netdev', 'user,id=n0,restrict=on', '-device', 'virtio-net-pci,netdev=n0'], {stdio: 'ignore'})
  const out = {}
  try {
    while (performance.now() - t < (accel === 'kvm' ? 60_000 : 300_000)) {
      let text = ''
      try { text = readFileSync(log, 'utf8') } catch {}
      const s = (performance.now() - t) / 1000
      if (out.init === undefined && /osctl-guest: init started/.test(text)) out.init = s
      if (/osctl-guest: ready/.test(text)) {
        out.ready = s
        out.uptime = Number(/init started .*uptime=([\d.]+)/.exec(text)?.[1])
        return out
      }
      await sleep(100)
    }
    throw new Error(`${accel} boot ${n}: no ready line in ${accel === 'kvm' ? 60 : 300} s`)
  } finally {
    q.kill('SIGKILL')
  }
}

const cold = build(join(work, 'cache'))
const cached = build(join(work, 'cache'))
const accels = ['tcg']
try { accessSync('/dev/kvm', constants.R_OK | constants.W_OK); accels.push('kvm') } catch {}
const rows = [
  ['build, empty cache (apt-get download, depmod, initramfs, disk, qcow2) s', cold.seconds.toFixed(1), ''],
  ['build, cached (apt-cache lookup, cache hit) s', cached.seconds.toFixed(1), ''],
]
for (const accel of accels) {
  const runs = []
  try {
    for (let i = 0; i < RUNS; i++) runs.push(await boot(cold.image.path, accel, i))
  } catch (err) {
    // /dev/kvm present but unusable (nested KVM that stops at SYSLINUX): say so, keep the TCG rows.
    rows.push([`${accel}: does not boot on this machine (${err.message.split('\n')[0]})`, '–', ''])
    continue
  }
  const col = (k) => runs.map((r) => r[k])
  rows.push([`${accel}: qemu start → init's first line s`, median(col('init')).toFixed(1), Math.max(...col('init')).toFixed(1)])
  rows.push([`${accel}: kernel uptime at init s`, median(col('uptime')).toFixed(1), Math.max(...col('uptime')).toFixed(1)])
  rows.push([`${accel}: qemu start → ready (DHCP, metadata tried) s`, median(col('ready')).toFixed(1), Math.max(...col('ready')).toFixed(1)])
}
console.log(`osctl-guest ${cold.image.kernel}, ${(cold.image.size / 1e6).toFixed(1)} MB qcow2; load average ${loadavg()[0].toFixed(1)} at the end\n`)
console.log(`| osctl-guest | median (${RUNS} runs) | worst |\n|---|---:|---:|`)
for (const r of rows) console.log(`| ${r[0]} | ${r[1]} | ${r[2]} |`)
rmSync(work, {recursive: true, force: true})
