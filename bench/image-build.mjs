#!/usr/bin/env node
// Image build benchmark: median wall time of a cold build (no osctl images in the engine, debootstrap
// rootfs kept), of a no-op build (everything unchanged; target ≤ 5 s), of a tag-only build (same
// content, another tag: tagged, not rebuilt; target ≤ 10 s) and of the same content for another
// site's registry (no rebuild), through the real CLI.
//
//   node bench/image-build.mjs            BENCH_RUNS=5 node bench/image-build.mjs
//   BENCH_ROOTFS_COLD=1 …                 also time debootstrap + import once (~40 s)
//   BENCH_IMAGES=etcd,registry …          only these images and their parents
//
// Cold means cold: Docker's classic builder caches by image layers, so every image labelled
// io.osctl.image (any tag) is removed first. Do not run it next to a test using those images.
import {execFileSync, spawnSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {median} from './lib.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const TAG = `bench${process.pid}`
const SITE = '/nonexistent/osctl-bench-site'

const docker = (...args) => execFileSync('docker', args, {encoding: 'utf8'}).trim()

function osctl(args) {
  const started = process.hrtime.bigint()
  const r = spawnSync('node', [join(ROOT, 'bin', 'run.js'), ...args], {encoding: 'utf8', maxBuffer: 64 << 20})
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (r.status !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.status}\n${r.stderr}`)
  return {seconds, json: JSON.parse(r.stdout)}
}

function removeOsctlImages(onlyTag) {
  const refs = docker('images', '--filter', 'label=io.osctl.image', '--format', '{{.Repository}}:{{.Tag}}')
    .split('\n')
    .filter((r) => r && (!onlyTag || r.endsWith(`:${onlyTag}`)))
  if (refs.length > 0) spawnSync('docker', ['rmi', '-f', ...refs], {stdio: 'ignore'})
}

// tsc emits even when another part of the tree has type errors; the CLI under test is dist/.
spawnSync('node', [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], {stdio: 'ignore'})

const names = (process.env.BENCH_IMAGES ?? '').split(',').filter(Boolean)
const buildAt = (tag, ...extra) => ['image', 'build', ...names, '--site', SITE, '--tag', tag, '--json', '--quiet', ...extra]
const build = buildAt(TAG)
const rows = []

if (process.env.BENCH_ROOTFS_COLD === '1') {
  // The same rootfs spec the CLI derives from the (default) site values.
  const {rootfsRef, rootfsKey} = await import(join(ROOT, 'dist', 'images', 'debootstrap.js'))
  const {resolveImageVars} = await import(join(ROOT, 'dist', 'images', 'image-vars.js'))
  const {CACHE_DIR} = await import(join(ROOT, 'dist', 'paths.js'))
  const spec = (await resolveImageVars({siteDir: SITE, tag: TAG})).rootfs
  removeOsctlImages()
  spawnSync('docker', ['rmi', '-f', rootfsRef(spec)], {stdio: 'ignore'})
  rmSync(join(CACHE_DIR, 'rootfs', `${rootfsKey(spec)}.tar`), {force: true})
  rows.push(['cold build incl. debootstrap rootfs (1 run)', osctl(build).seconds, 1])
}

const cold = []
const noop = []
const tagOnly = []
const otherSite = []
const reused = (r, what) => {
  if (!r.json.images.every((img) => img.status === 'reused')) throw new Error(`${what} rebuilt something`)
  return r.seconds
}
let last
for (let i = 0; i < RUNS; i++) {
  removeOsctlImages()
  const c = osctl(build)
  if (!c.json.images.every((img) => img.status === 'built')) throw new Error('cold run did not build every image')
  cold.push(c.seconds)
  const n = osctl(build)
  if (!n.json.images.every((img) => img.status === 'unchanged')) throw new Error('no-op run rebuilt something')
  noop.push(n.seconds)
  tagOnly.push(reused(osctl(buildAt(`${TAG}b`)), 'tag-only run'))
  otherSite.push(reused(osctl(buildAt(TAG, '--registry', '10.254.0.1:4000')), 'other-registry run'))
  last = c.json.images
  process.stderr.write(`run ${i + 1}/${RUNS}: cold ${c.seconds.toFixed(1)} s, no-op ${n.seconds.toFixed(2)} s\n`)
}
rows.push(
  ['cold build (rootfs cached)', median(cold), RUNS],
  ['no-op build (target ≤ 5 s)', median(noop), RUNS],
  ['tag-only build: same content, new tag (target ≤ 10 s)', median(tagOnly), RUNS],
  ['same content for another site registry (no rebuild)', median(otherSite), RUNS],
)

const sizes = JSON.parse(docker('image', 'inspect', ...last.map((i) => i.ref), '--format', '{{json .Size}}').split('\n').join(',').replace(/^/, '[').replace(/$/, ']'))
console.log(`\n### osctl image build (${new Date().toISOString().slice(0, 10)}, docker ${docker('version', '--format', '{{.Server.Version}}')})\n`)
console.log('| measurement | median (s) | runs |\n|---|---:|---:|')
for (const [what, s, n] of rows) console.log(`| ${what} | ${s.toFixed(2)} | ${n} |`)
console.log('\n| image | parent | size (MB) | build (s, last cold run) |\n|---|---|---:|---:|')
last.forEach((img, i) => console.log(`| ${img.name} | ${img.parent ?? '(rootfs)'} | ${(sizes[i] / 1e6).toFixed(1)} | ${img.seconds.toFixed(1)} |`))

removeOsctlImages(TAG)
removeOsctlImages(`${TAG}b`)
