import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {EXIT_CODE_TABLE} from '../../src/errors.js'
import {REPO_ROOT, runCli} from '../helpers/cli.js'

describe('CLI contract', () => {
  it('`osctl --help` lists the topics and commands that exist', async () => {
    const r = await runCli(['--help'])
    expect(r.exitCode).toBe(0)
    for (const topic of ['lab', 'image', 'system', 'genpwd', 'bootstrap']) expect(r.stdout).toMatch(new RegExp(`^\\s+${topic}\\s`, 'm'))
  })

  it('every command shows the exit-code table in its help and offers --json', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8'))
    const ids = Object.keys(manifest.commands)
    expect(ids).toEqual(expect.arrayContaining(['genpwd', 'bootstrap', 'lab:up', 'image:build', 'system:upgrade', 'system:rollback']))
    for (const id of ids) expect(manifest.commands[id].flags.json, id).toBeDefined()
    // Every command's help, four CLI processes at a time (each is a Node start).
    const cmds = ids.map((id) => id.split(':'))
    for (let i = 0; i < cmds.length; i += 4) {
      const batch = cmds.slice(i, i + 4)
      const results = await Promise.all(batch.map((cmd) => runCli([...cmd, '--help'])))
      for (const [j, r] of results.entries()) {
        const name = batch[j].join(' ')
        expect(r.exitCode, name).toBe(0)
        expect(r.stdout, name).toContain('EXIT CODES')
        for (const [code] of EXIT_CODE_TABLE) expect(r.stdout, name).toMatch(new RegExp(`^\\s+${code}\\s`, 'm'))
      }
    }
    // 26 commands: a few minutes of Node starts on a loaded 2-core machine.
  }, 300_000)

  it('an unknown flag is a usage error (exit 2) naming the flag, without a stack trace', async () => {
    const r = await runCli(['image', 'list', '--no-such-flag'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('--no-such-flag')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('with --json a usage error is one JSON document on stdout', async () => {
    const r = await runCli(['image', 'list', '--no-such-flag', '--json'])
    expect(r.exitCode).toBe(2)
    const doc = JSON.parse(r.stdout)
    expect(doc.ok).toBe(false)
    expect(doc.error.code).toBe('USAGE')
    expect(doc.error.exitCode).toBe(2)
  })
})
