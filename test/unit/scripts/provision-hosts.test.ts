import {execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {REPO_ROOT} from '../../helpers/cli.js'

/**
 * scripts/provision/add-host.mjs and remove-host.mjs (zx) against a scripted osctl and openstack
 * client: each osctl call logs its argv and answers the next planned envelope for its command
 * (`host add`, `deploy`, …); each `openstack` call logs its argv and cloud settings and answers the
 * next planned hypervisor list (the last one repeats).
 */
const OSCTL = `
const fs = require('fs')
const args = process.argv.slice(2)
const dir = process.env.STUB_DIR
fs.appendFileSync(dir + '/calls', args.join(' ') + '\\n')
const plan = JSON.parse(fs.readFileSync(dir + '/plan.json', 'utf8'))
const key = args[0] === 'host' ? args.slice(0, 2).join(' ') : args[0]
const next = (plan[key] ?? []).shift() ?? {exitCode: 0}
fs.writeFileSync(dir + '/plan.json', JSON.stringify(plan))
const hosts = (next.hosts ?? []).map(([host, ok]) => ({host, ok, changed: ok, exitCode: ok ? 0 : next.exitCode, ...(ok ? {} : {error: {code: 'X', message: host + ' broke'}})}))
const error = next.message ? {error: {code: 'X', message: next.message}} : {}
console.log(JSON.stringify({ok: next.exitCode === 0, command: key, exitCode: next.exitCode, hosts, ...error, ...(next.data ?? {})}))
process.exit(next.exitCode)
`
const OPENSTACK = `
const fs = require('fs')
const dir = process.env.STUB_DIR
fs.appendFileSync(dir + '/openstack', process.argv.slice(2).join(' ') + ' [' + process.env.OS_CLIENT_CONFIG_FILE + ' ' + process.env.OS_CLOUD + ']\\n')
const answers = JSON.parse(fs.readFileSync(dir + '/hypervisors.json', 'utf8'))
const next = answers.length > 1 ? answers.shift() : answers[0]
fs.writeFileSync(dir + '/hypervisors.json', JSON.stringify(answers))
if (next.exitCode) { console.error('Unable to establish connection to http://10.0.0.11:8774'); process.exit(next.exitCode) }
console.log(JSON.stringify(next.rows))
`

type Answer = {exitCode: number; hosts?: Array<[string, boolean]>; message?: string; data?: Record<string, unknown>}
type Rows = {exitCode?: number; rows?: Array<Record<string, string>>}
const up = (name: string, state = 'up') => ({ID: '1', 'Hypervisor Hostname': name, 'Hypervisor Type': 'fake', 'Host IP': '10.0.0.23', State: state})
const tail = '--site /srv/site --json --progress none'

describe('scripts/provision/add-host.mjs and remove-host.mjs', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-provision-host-'))
    await writeFile(join(dir, 'osctl.cjs'), OSCTL)
    await writeFile(join(dir, 'openstack.cjs'), OPENSTACK)
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const run = async (script: 'add-host' | 'remove-host', args: string[], plan: Record<string, Answer[]> = {}, hypervisors: Rows[] = [{rows: []}]) => {
    await Promise.all(['calls', 'openstack'].map((f) => rm(join(dir, f), {force: true})))
    await writeFile(join(dir, 'plan.json'), JSON.stringify(plan))
    await writeFile(join(dir, 'hypervisors.json'), JSON.stringify(hypervisors))
    const r = await execa('node', [join(REPO_ROOT, 'scripts', 'provision', `${script}.mjs`), ...args], {
      reject: false,
      env: {OSCTL_BIN: `node ${join(dir, 'osctl.cjs')}`, OPENSTACK_BIN: `node ${join(dir, 'openstack.cjs')}`, STUB_DIR: dir, OSCTL_SITE: ''},
    })
    const lines = async (f: string) => (await readFile(join(dir, f), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean)
    return {exitCode: r.exitCode, summary: JSON.parse(String(r.stdout)), stderr: String(r.stderr), calls: await lines('calls'), openstack: await lines('openstack')}
  }
  const add = (extra: string[] = []) => ['--site', '/srv/site', '--name', 'cmp-3', '--address', '10.0.0.23', '--group', 'compute', '--retry-delay', '0', '--poll', '0', ...extra]

  it('runs host add, bootstrap, deploy, the nova discover deploy and post-deploy in order, then waits until the hypervisor is up', async () => {
    const r = await run('add-host', add(['--ssh-port', '2222']), {'host add': [{exitCode: 0, data: {added: true}}]}, [{rows: []}, {rows: [up('cmp-3', 'down')]}, {rows: [up('cmp-1'), up('cmp-3')]}])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.calls).toEqual([
      `host add cmp-3 --address 10.0.0.23 --group compute --ssh-port 2222 ${tail}`,
      `bootstrap --limit cmp-3 ${tail}`,
      `deploy --limit cmp-3 ${tail}`,
      `deploy --services nova ${tail}`,
      `post-deploy ${tail}`,
    ])
    expect(r.openstack).toEqual(Array(3).fill('hypervisor list -f json [/srv/site/clouds.yaml osctl]'))
    expect(r.summary).toEqual({
      ok: true,
      exitCode: 0,
      host: 'cmp-3',
      address: '10.0.0.23',
      groups: ['compute'],
      site: '/srv/site',
      added: true,
      steps: ['host-add', 'bootstrap', 'deploy', 'discover', 'post-deploy'].map((step) => ({step, command: expect.stringMatching(/^osctl /), attempts: 1, exitCode: 0, failedHosts: [], seconds: expect.any(Number)})),
      hypervisor: {hostname: 'cmp-3', state: 'up', seconds: expect.any(Number), polls: 3},
    })
  })

  it('a control host gets a deploy everywhere instead of the nova discover run, and no hypervisor wait unless it also computes', async () => {
    const control = await run('add-host', add().map((a) => (a === 'compute' ? 'control' : a)))
    expect(control.exitCode).toBe(0)
    expect(control.calls.map((c) => c.replace(` ${tail}`, ''))).toEqual(['host add cmp-3 --address 10.0.0.23 --group control', 'bootstrap --limit cmp-3', 'deploy --limit cmp-3', 'deploy', 'post-deploy'])
    expect(control.openstack).toEqual([])
    expect(control.summary.hypervisor).toBeUndefined()
  })

  it('refuses bad arguments with exit 2 and a JSON summary, before calling osctl', async () => {
    for (const args of [
      ['--name', 'cmp-3', '--address', '10.0.0.23', '--group', 'compute'],
      ['--site', '/srv/site', '--address', '10.0.0.23', '--group', 'compute'],
      ['--site', '/srv/site', '--name', 'cmp-3', '--group', 'compute'],
      ['--site', '/srv/site', '--name', 'cmp-3', '--address', '10.0.0.23', '--group', ','],
      [...add(), '--groups', 'compute'],
      [...add(), '--timeout', 'soon'],
      [...add(), 'extra'],
    ]) {
      const r = await run('add-host', args)
      expect(r.exitCode, args.join(' ')).toBe(2)
      expect(r.calls).toEqual([])
      expect(r.summary).toMatchObject({ok: false, exitCode: 2, steps: [], error: expect.any(String)})
    }
    const r = await run('add-host', [...add(), '--groups', 'x'])
    expect(r.summary.error).toBe('unknown option --groups')
    expect((await run('remove-host', ['--site', '/srv/site'])).summary).toMatchObject({exitCode: 2, error: '--name NAME is required'})
  })

  it("stops at the first failed step with its exit code and error; exit 5 is retried, up to --retries", async () => {
    const failed = await run('add-host', add(), {deploy: [{exitCode: 4, hosts: [['cmp-3', false]]}]})
    expect(failed.exitCode).toBe(4)
    expect(failed.calls.map((c) => c.split(' --site')[0])).toEqual(['host add cmp-3 --address 10.0.0.23 --group compute', 'bootstrap --limit cmp-3', 'deploy --limit cmp-3'])
    expect(failed.summary).toMatchObject({ok: false, exitCode: 4, failedStep: 'deploy', error: 'cmp-3 broke'})
    expect(failed.summary.steps.at(-1)).toMatchObject({step: 'deploy', exitCode: 4, failedHosts: ['cmp-3'], error: 'cmp-3 broke'})
    expect(failed.openstack).toEqual([])

    const booting = await run('add-host', add(['--retries', '1']), {bootstrap: [{exitCode: 5, hosts: [['cmp-3', false]]}, {exitCode: 0, hosts: [['cmp-3', true]]}]}, [{rows: [up('cmp-3')]}])
    expect(booting.exitCode).toBe(0)
    expect(booting.summary.steps[1]).toMatchObject({step: 'bootstrap', attempts: 2, exitCode: 0, failedHosts: []})

    const down = await run('add-host', add(['--retries', '1']), {bootstrap: [1, 2, 3].map(() => ({exitCode: 5, hosts: [['cmp-3', false]] as Array<[string, boolean]>}))})
    expect(down.exitCode).toBe(5)
    expect(down.calls).toHaveLength(3)
    expect(down.summary).toMatchObject({exitCode: 5, failedStep: 'bootstrap', steps: [{step: 'host-add'}, {step: 'bootstrap', attempts: 2}]})

    const usage = await run('add-host', add(), {'host add': [{exitCode: 2, message: 'host cmp-3 is already in the inventory (inventory.yml:9:3)'}]})
    expect(usage.exitCode).toBe(2)
    expect(usage.calls).toHaveLength(1)
    expect(usage.summary).toMatchObject({failedStep: 'host-add', error: 'host cmp-3 is already in the inventory (inventory.yml:9:3)'})
  })

  it('exits 1 when the hypervisor is listed but never up in --timeout, 5 when the client never answers', async () => {
    const never = await run('add-host', add(['--timeout', '0']), {}, [{rows: [up('cmp-3', 'down')]}])
    expect(never.exitCode).toBe(1)
    expect(never.summary).toMatchObject({failedStep: 'hypervisor', error: 'cmp-3 is not an up hypervisor after 0s', hypervisor: {hostname: 'cmp-3', state: 'down', polls: 1}})
    const noApi = await run('add-host', add(['--timeout', '0']), {}, [{exitCode: 1}])
    expect(noApi.exitCode).toBe(5)
    expect(noApi.summary).toMatchObject({failedStep: 'hypervisor', error: expect.stringMatching(/^openstack hypervisor list exited 1: Unable to establish connection/), hypervisor: {hostname: null}})
  })

  it('remove-host drains the host, then waits until it is no hypervisor any more; a failed removal keeps its exit code', async () => {
    const data = {steps: [{kind: 'nova-disable', via: 'ctl-1'}, {kind: 'stop-services', containers: ['nova-compute']}, {kind: 'nova-delete', via: 'ctl-1'}, {kind: 'inventory'}]}
    const r = await run('remove-host', ['--site', '/srv/site', '--name', 'cmp-3', '--poll', '0'], {'host remove': [{exitCode: 0, hosts: [['cmp-3', true]], data}]}, [{rows: [up('cmp-3')]}, {rows: [up('cmp-1')]}])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.calls).toEqual([`host remove cmp-3 --drain ${tail}`])
    expect(r.summary).toMatchObject({ok: true, host: 'cmp-3', removed: ['nova-disable', 'stop-services', 'nova-delete', 'inventory'], hypervisor: {gone: true, polls: 2}})

    const refused = await run('remove-host', ['--site', '/srv/site', '--name', 'ctl-1'], {'host remove': [{exitCode: 2, message: 'ctl-1 is the deploy host'}]})
    expect(refused.exitCode).toBe(2)
    expect(refused.summary).toMatchObject({ok: false, failedStep: 'host-remove', error: 'ctl-1 is the deploy host'})
    expect(refused.openstack).toEqual([])
  })
})
