import {execa} from 'execa'
import {join} from 'node:path'

/**
 * Tests drive the real CLI, so build it once per run as `npm run build` does: tsc (bundling even when
 * a file has type errors: tsc emits anyway, the typecheck test names them), then the bundles
 * bin/run.js starts (scripts/bundle.mjs). Skipped when dist/ was built from these very sources
 * (scripts/test.sh has just built it through setup.sh).
 */
export default async function setup(): Promise<void> {
  const root = join(import.meta.dirname, '..')
  await execa('node', ['scripts/build.mjs', '--if-changed', '--keep-going'], {cwd: root, stdio: 'inherit'})
}
