import {chmod, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {OsctlErrors} from '../../../src/errors.js'
import {addHostEdit, removeHostEdit, writeInventory} from '../../../src/membership/inventory-edit.js'
import {loadSite} from '../../../src/site/load-site.js'

// Comments, a blank line and both flow and block styles: the edit must keep every one of them.
const INVENTORY = `# Lab inventory (hand-written)
defaults:
  ssh_user: root
  ssh_key: id_ed25519 # the lab key

hosts:
  # the control plane
  ctl-1: {address: 10.0.0.11}
  ctl-2: {address: 10.0.0.12}
  cmp-1: {address: 10.0.0.21, ssh_port: 2222}

groups:
  deploy: [ctl-1]
  control: [ctl-1, ctl-2] # etcd members
  compute: [cmp-1]
`

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

async function site(inventory = INVENTORY): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'osctl-hosts-'))
  dirs.push(dir)
  await writeFile(join(dir, 'osctl.yml'), 'registry: 10.0.0.11:4000\n')
  await writeFile(join(dir, 'inventory.yml'), inventory)
  await chmod(join(dir, 'inventory.yml'), 0o640)
  await writeFile(join(dir, 'passwords.yml'), 'keystone_admin_password: x\n', {mode: 0o600})
  await writeFile(join(dir, 'id_ed25519'), 'key', {mode: 0o600})
  return dir
}

async function problems(p: Promise<unknown>): Promise<Array<{message: string; location?: string; hint?: string}>> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(OsctlErrors)
  expect((err as OsctlErrors).exitCode).toBe(2)
  return (err as OsctlErrors).errors
}

describe('host add: the inventory edit', () => {
  it('appends the host and its group memberships, keeping comments, blank lines and flow style; the loader accepts it', async () => {
    const dir = await site()
    const s = await loadSite(dir)
    const edit = await addHostEdit(s, {name: 'cmp-2', address: '10.0.0.22', groups: ['compute'], sshPort: 2200})
    expect(edit.text).toBe(INVENTORY.replace('  cmp-1: {address: 10.0.0.21, ssh_port: 2222}\n', '  cmp-1: {address: 10.0.0.21, ssh_port: 2222}\n  cmp-2: {address: 10.0.0.22, ssh_port: 2200}\n').replace('compute: [cmp-1]', 'compute: [cmp-1, cmp-2]'))
    await writeInventory(edit)
    expect((await stat(join(dir, 'inventory.yml'))).mode & 0o777).toBe(0o640)
    const after = await loadSite(dir, {forHosts: true})
    expect(after.hosts.at(-1)).toEqual({name: 'cmp-2', address: '10.0.0.22', ssh: {user: 'root', port: 2200, keyFile: join(dir, 'id_ed25519')}, groups: ['compute']})
  })

  it('creates a group that is missing, in the style of the others, and block style for a block-style inventory', async () => {
    const block = 'hosts:\n  ctl-1:\n    address: 10.0.0.11\ngroups:\n  deploy:\n    - ctl-1\n  control:\n    - ctl-1\n'
    const s = await loadSite(await site(block))
    const edit = await addHostEdit(s, {name: 'cmp-1', address: 'cmp-1.example.org', groups: ['compute', 'control'], sshUser: 'admin'})
    expect(edit.text).toBe('hosts:\n  ctl-1:\n    address: 10.0.0.11\n  cmp-1:\n    address: cmp-1.example.org\n    ssh_user: admin\ngroups:\n  deploy:\n    - ctl-1\n  control:\n    - ctl-1\n    - cmp-1\n  compute:\n    - cmp-1\n')
    expect(edit.site.groups).toEqual({deploy: ['ctl-1'], control: ['ctl-1', 'cmp-1'], compute: ['cmp-1'], network: ['ctl-1', 'cmp-1']})
  })

  it('refuses a name or address in use and an unknown group, naming the flag and the clashing line', async () => {
    const dir = await site()
    const s = await loadSite(dir)
    const inv = join(dir, 'inventory.yml')
    expect(await problems(addHostEdit(s, {name: 'ctl-2', address: '10.0.0.21', groups: ['comptue']}))).toMatchObject([
      {code: 'USAGE', message: `host ctl-2 is already in the inventory (${inv}:9:3)`, location: 'NAME', hint: 'it has address 10.0.0.12, groups control; the same request again is accepted as is, else pick another name, or `osctl host remove ctl-2` first'},
      {message: `address 10.0.0.21 is already the address of host cmp-1 (${inv}:10:20)`, location: '--address'},
      {message: 'unknown group comptue', location: '--group', hint: 'did you mean compute? groups: deploy, control, network, compute'},
    ])
    expect(await readFile(inv, 'utf8')).toBe(INVENTORY)
  })

  it('accepts the same request again unchanged (address, groups it is in, SSH settings given), and refuses any difference', async () => {
    const dir = await site()
    const s = await loadSite(dir)
    for (const req of [
      {name: 'cmp-1', address: '10.0.0.21', groups: ['compute']},
      {name: 'ctl-2', address: '10.0.0.12.', groups: ['control'], sshUser: 'root', sshKey: 'id_ed25519'},
      {name: 'cmp-1', address: '10.0.0.21', groups: ['compute'], sshPort: 2222},
    ]) {
      const edit = await addHostEdit(s, req)
      expect(edit, req.name).toMatchObject({changed: false, text: INVENTORY})
    }
    for (const req of [
      {name: 'cmp-1', address: '10.0.0.29', groups: ['compute']},
      {name: 'cmp-1', address: '10.0.0.21', groups: ['compute', 'control']},
      {name: 'cmp-1', address: '10.0.0.21', groups: ['compute'], sshPort: 22},
      {name: 'cmp-1', address: '10.0.0.21', groups: ['compute'], sshUser: 'admin'},
    ]) {
      const [p] = await problems(addHostEdit(s, req))
      expect(p, JSON.stringify(req)).toMatchObject({message: expect.stringMatching(/^host cmp-1 is already in the inventory/), hint: expect.stringMatching(/^it has address 10.0.0.21, groups compute;/)})
    }
  })

  it('refuses a second deploy host and a key file that does not exist (after the edit, at its line)', async () => {
    const s = await loadSite(await site())
    expect((await problems(addHostEdit(s, {name: 'x', address: '10.0.0.9', groups: ['deploy']})))[0]).toMatchObject({message: expect.stringMatching(/^group deploy already has ctl-1 \(.*inventory.yml:13:11\)$/), location: '--group'})
    const [missing] = await problems(addHostEdit(s, {name: 'x', address: '10.0.0.9', groups: ['compute'], sshKey: 'nope'}))
    expect(missing.message).toMatch(/^after the edit: SSH key file .*\/nope does not exist \(used for x\)$/)
    expect(missing.location).toMatch(/inventory.yml:11:\d+$/)
  })
})

describe('host remove: the inventory edit', () => {
  it('drops the host and its group memberships, keeping the rest of the file as it was', async () => {
    const s = await loadSite(await site())
    const edit = await removeHostEdit(s, 'ctl-2')
    expect(edit.text).toBe(INVENTORY.replace('  ctl-2: {address: 10.0.0.12}\n', '').replace('control: [ctl-1, ctl-2]', 'control: [ctl-1]'))
  })

  it('refuses an unknown host with its nearest name, the deploy host, and the last host of a group enabled services need', async () => {
    const s = await loadSite(await site())
    expect(await removeHostEdit(s, 'cmp1').catch((e) => e)).toMatchObject({code: 'USAGE', location: 'NAME', hint: 'did you mean cmp-1?', exitCode: 2})
    expect(await removeHostEdit(s, 'ctl-1').catch((e) => e)).toMatchObject({message: expect.stringMatching(/^ctl-1 is the deploy host/), exitCode: 2})
    const [last] = await problems(removeHostEdit(s, 'cmp-1'))
    expect(last.message).toMatch(/^after the edit: group compute is empty, but enabled services run on it: nova-libvirt, neutron-linuxbridge-agent, nova-compute/)
  })
})
