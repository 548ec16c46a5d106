#!/usr/bin/env node
// `npm run build`: tsc, then scripts/bundle.mjs, then a stamp in dist/ with a fingerprint of every
// input (path, size, mtime). With --if-changed nothing is built when the stamp matches the sources:
// ./scripts/test.sh builds through setup.sh and vitest's global setup would otherwise build the same
// tree again (16 s of a 2-core machine). --keep-going bundles even when tsc reports type errors (tsc
// emits anyway; the typecheck test names them); such a build writes no stamp.
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const stamp = join(root, 'dist', '.build-stamp')
const INPUTS = ['src', 'templates', 'units', 'images', 'package.json', 'package-lock.json', 'tsconfig.json', 'scripts/bundle.mjs', 'scripts/build.mjs']

function fingerprint() {
  const hash = createHash('sha256')
  const walk = (rel) => {
    const path = join(root, rel)
    if (!existsSync(path)) return
    const st = statSync(path)
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(rel, name))
    else hash.update(`${rel}\0${st.size}\0${st.mtimeMs}\n`)
  }
  for (const input of INPUTS) walk(input)
  return hash.digest('hex')
}

const args = process.argv.slice(2)
const before = fingerprint()
if (args.includes('--if-changed') && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === before) {
  console.log('dist/ is current: no source changed since its build')
  process.exit(0)
}
rmSync(stamp, {force: true})
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], {stdio: 'inherit'})
if (tsc.status !== 0 && !args.includes('--keep-going')) process.exit(tsc.status ?? 1)
await import('./bundle.mjs')
// The fingerprint taken before the build: a source edited while it ran makes the next check rebuild.
if (tsc.status === 0) writeFileSync(stamp, `${before}\n`)
