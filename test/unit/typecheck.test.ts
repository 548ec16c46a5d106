import {execa} from 'execa'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {REPO_ROOT} from '../helpers/cli.js'

// The global setup compiles src/ even with type errors (tests drive the built CLI); this is where a
// type error in src/ or in the tests and fakes (which must keep implementing the real interfaces) fails.
describe('types', () => {
  it('src/ and test/ type-check (`npm run typecheck`)', async () => {
    const r = await execa(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.test.json'], {cwd: REPO_ROOT, reject: false})
    expect(r.exitCode, `${r.stdout}${r.stderr}`).toBe(0)
  }, 300_000)
})
