import {execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {REPO_ROOT} from '../../helpers/cli.js'

/**
 * scripts/provision/site.mjs (zx) against a scripted osctl: each call logs its argv and answers the next
 * planned envelope for its command, so the retry rules are checked without hosts.
 */
const STUB = `
const fs = require('fs')
const [, , ...args] = process.argv
const dir = process.env.STUB_DIR
fs.appendFileSync(dir + '/calls', args.join(' ') + '\\n')
const plan = JSON.parse(fs.readFileSync(dir + '/plan.json', 'utf8'))
const queue = plan[args[0]] ?? [{exitCode: 0, hosts: []}]
const next = queue.shift() ?? {exitCode: 0, hosts: []}
fs.writeFileSync(dir + '/plan.json', JSON.stringify(plan))
const hosts = next.hosts.map(([host, ok]) => ({host, ok, changed: ok, exitCode: ok ? 0 : next.exitCode}))
console.log(JSON.stringify({ok: next.exitCode === 0, command: args[0], exitCode: next.exitCode, hosts, ...(next.exitCode ? {error: {code: 'X', message: 'failed'}} : {})}))
process.exit(next.exitCode)
`

describe('scripts/provision/site.mjs', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-provision-'))
    await writeFile(join(dir, 'osctl.cjs'), STUB)
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const run = async (plan: Record<string, Array<{exitCode: number; hosts: Array<[string, boolean]>}>>, extra: string[] = []) => {
    await writeFile(join(dir, 'plan.json'), JSON.stringify(plan))
    const r = await execa('node', [join(REPO_ROOT, 'scripts', 'provision', 'site.mjs'), '--site', '/srv/site', '--retry-delay', '0', ...extra], {
      reject: false,
      env: {OSCTL_BIN: `node ${join(dir, 'osctl.cjs')}`, STUB_DIR: dir},
    })
    const calls = (await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n')
    return {exitCode: r.exitCode, summary: JSON.parse(String(r.stdout)), calls}
  }

  it('runs bootstrap, deploy and post-deploy with --json, and retries only the hosts that failed (exit 3, then 5)', async () => {
    const r = await run({
      bootstrap: [{exitCode: 0, hosts: [['a', true], ['b', true], ['c', true]]}],
      deploy: [{exitCode: 3, hosts: [['a', true], ['b', false], ['c', false]]}, {exitCode: 5, hosts: [['b', true], ['c', false]]}, {exitCode: 0, hosts: [['c', true]]}],
    }, ['--services', 'keystone'])
    expect(r.exitCode).toBe(0)
    expect(r.calls).toEqual([
      'bootstrap --site /srv/site --json --progress none',
      'deploy --services keystone --site /srv/site --json --progress none',
      'deploy --services keystone --site /srv/site --limit b,c --json --progress none',
      'deploy --services keystone --site /srv/site --limit c --json --progress none',
      'post-deploy --site /srv/site --json --progress none',
    ])
    expect(r.summary).toMatchObject({ok: true, steps: [{command: 'bootstrap', attempts: 1}, {command: 'deploy', attempts: 3, exitCode: 0}, {command: 'post-deploy', attempts: 1}]})
  })

  it('stops at once on bad input or a failed operation, and gives up after --retries', async () => {
    const bad = await run({bootstrap: [{exitCode: 2, hosts: []}]})
    expect(bad.exitCode).toBe(2)
    expect(bad.calls).toEqual(['bootstrap --site /srv/site --json --progress none'])
    expect(bad.summary).toMatchObject({ok: false, steps: [{command: 'bootstrap', exitCode: 2, error: 'failed'}]})

    await rm(join(dir, 'calls'))
    const down = await run({bootstrap: [1, 2, 3].map(() => ({exitCode: 5, hosts: [['a', false]]}))}, ['--retries', '1'])
    expect(down.exitCode).toBe(5)
    expect(down.calls).toHaveLength(2)
    expect(down.summary.steps).toEqual([{command: 'bootstrap', attempts: 2, exitCode: 5, failedHosts: ['a'], error: 'failed'}])
  })
})
