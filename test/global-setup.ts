import {execa} from 'execa'
import {join} from 'node:path'

/**
 * Tests drive the real CLI, so build it once per run as `npm run build` does: tsc (which emits even
 * when a file has type errors), then the bundles bin/run.js starts (scripts/bundle.mjs).
 */
export default async function setup(): Promise<void> {
  const root = join(import.meta.dirname, '..')
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], {cwd: root, reject: false, stdio: 'inherit'})
  await execa('node', ['scripts/bundle.mjs'], {cwd: root, stdio: 'inherit'})
}
