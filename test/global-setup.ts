import {execa} from 'execa'
import {join} from 'node:path'

/** Tests drive the real CLI, so compile it once per run (tsc emits even when a file has type errors). */
export default async function setup(): Promise<void> {
  const root = join(import.meta.dirname, '..')
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], {cwd: root, reject: false, stdio: 'inherit'})
}
