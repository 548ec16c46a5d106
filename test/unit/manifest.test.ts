import {execa} from 'execa'
import {cp, mkdtemp, readFile, rm, symlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {REPO_ROOT} from '../helpers/cli.js'

describe('oclif.manifest.json', () => {
  let dir: string | undefined
  afterAll(async () => {
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('is committed and matches what oclif generates from the compiled commands', async () => {
    // Generate in a scratch copy so the committed manifest is never touched by the test.
    dir = await mkdtemp(join(tmpdir(), 'osctl-manifest-'))
    await cp(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'))
    await cp(join(REPO_ROOT, 'dist'), join(dir, 'dist'), {recursive: true})
    await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'))
    await execa(join(REPO_ROOT, 'node_modules', '.bin', 'oclif'), ['manifest'], {cwd: dir})
    const fresh = JSON.parse(await readFile(join(dir, 'oclif.manifest.json'), 'utf8'))
    const committed = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8'))
    expect(Object.keys(committed.commands).sort(), 'run `npm run build && npm run manifest` and commit oclif.manifest.json').toEqual(
      Object.keys(fresh.commands).sort(),
    )
    expect(committed).toEqual(fresh)
  })
})
