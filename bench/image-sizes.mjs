#!/usr/bin/env node
// Image sizes: a markdown table of every osctl image of one tag (label io.osctl.image), its parent,
// its full size and what it adds on top of its parent, then the unique total: shared layers (base,
// openstack-base, nova-base …) counted once, as a registry or a host's disk holds them.
//
//   node bench/image-sizes.mjs                 tag zed
//   node bench/image-sizes.mjs --tag t1234     another tag;  --budget 2000  fail (exit 1) above 2000 MB
//   node bench/image-sizes.mjs --registry localhost:4000   only the images named for that registry
//
// The parent of an image is the image of the set whose layer list is the longest proper prefix of
// its own (that is what FROM makes); an image with none is a root and counts in full.
import {execFileSync} from 'node:child_process'
import {parseArgs} from 'node:util'

const {values} = parseArgs({options: {tag: {type: 'string', default: 'zed'}, budget: {type: 'string'}, registry: {type: 'string'}}})
const docker = (...args) => execFileSync('docker', args, {encoding: 'utf8', maxBuffer: 64 << 20}).trim()
const MB = (bytes) => (bytes / 1e6).toFixed(1)

const refs = docker('images', '--filter', 'label=io.osctl.image', '--format', '{{.Repository}}:{{.Tag}}')
  .split('\n')
  .filter((r) => r && r.endsWith(`:${values.tag}`) && (!values.registry || r.startsWith(`${values.registry}/`)))
if (refs.length === 0) {
  console.error(`no osctl images with tag ${values.tag} (build them: osctl image build --tag ${values.tag})`)
  process.exit(2)
}

// One image under several names (the machine also keeps the refs of the lab registries it pushed
// to) is counted once.
const seen = new Set()
const images = JSON.parse(docker('image', 'inspect', ...refs))
  .map((img, i) => ({
    id: img.Id,
    ref: refs[i],
    name: img.Config.Labels['io.osctl.image'],
    size: img.Size,
    layers: img.RootFS.Layers,
  }))
  .filter((img) => !seen.has(img.id) && seen.add(img.id))

const isPrefix = (short, long) => short.length < long.length && short.every((l, i) => long[i] === l)
// An image that adds no layer (neutron-server: neutron-base's layers and its own labels) has the
// one it shares them with as its parent, the first by name: it adds nothing.
const sameLayers = (a, b) => a.layers.length === b.layers.length && a.layers.every((l, i) => b.layers[i] === l)
for (const img of images) {
  const parents = images
    .filter((p) => isPrefix(p.layers, img.layers) || (p !== img && sameLayers(p, img) && p.name.localeCompare(img.name) < 0))
    .sort((a, b) => b.layers.length - a.layers.length)
  img.parent = parents[0] ?? null
  img.own = img.size - (img.parent?.size ?? 0)
}

// Parents first, then by name: the table reads as the tree.
const depth = (img) => (img.parent ? 1 + depth(img.parent) : 0)
images.sort((a, b) => depth(a) - depth(b) || a.name.localeCompare(b.name))

const uniqueLayers = new Set(images.flatMap((i) => i.layers)).size
const unique = images.reduce((sum, i) => sum + i.own, 0)
const naive = images.reduce((sum, i) => sum + i.size, 0)

console.log(`\n### osctl image sizes (tag ${values.tag}, ${new Date().toISOString().slice(0, 10)})\n`)
console.log('| image | parent | size (MB) | adds to parent (MB) | layers |\n|---|---|---:|---:|---:|')
for (const i of images) console.log(`| ${i.name} | ${i.parent?.name ?? '(rootfs)'} | ${MB(i.size)} | ${MB(i.own)} | ${i.layers.length} |`)
console.log(`| **unique total** (shared layers once) | | **${MB(unique)}** | | ${uniqueLayers} |`)
console.log(`| sum of sizes (no sharing) | | ${MB(naive)} | | |`)

if (values.budget && unique / 1e6 > Number(values.budget)) {
  console.error(`unique total ${MB(unique)} MB is over the budget of ${values.budget} MB`)
  process.exit(1)
}
