import {describe, expect, it} from 'vitest'

import {hostsFor} from '../../../src/hosts/connect.js'
import {SshHost} from '../../../src/hosts/ssh-host.js'
import {FakeHost} from '../../fakes/fake-host.js'

describe('FakeHost', () => {
  it('answers with the latest matching handler and records every command', async () => {
    const fake = new FakeHost('lab-1')
      .on(/^systemctl is-active/, () => ({exitCode: 3, stdout: 'inactive\n'}))
      .on('systemctl is-active osctl-etcd', () => 'active\n')
    expect((await fake.exec(['systemctl', 'is-active', 'osctl-etcd'])).stdout).toBe('active\n')
    expect(await fake.exec(['systemctl', 'is-active', 'other'])).toMatchObject({exitCode: 3, stdout: 'inactive\n'})
    expect(fake.commands).toEqual(['systemctl is-active osctl-etcd', 'systemctl is-active other'])
    expect(fake.ran(/other$/)).toBe(true)
  })

  it('an unhandled command exits 127 and run() names the host', async () => {
    const fake = new FakeHost('lab-1')
    expect((await fake.exec(['skopeo', 'copy'])).exitCode).toBe(127)
    await expect(fake.run(['skopeo', 'copy'])).rejects.toMatchObject({code: 'COMMAND_FAILED', message: expect.stringContaining('lab-1')})
  })

  it('down: every operation fails as an unreachable host', async () => {
    const fake = new FakeHost('lab-2', '10.0.0.3')
    fake.down = true
    const unreachable = {code: 'HOST_UNREACHABLE', message: 'cannot reach lab-2 (10.0.0.3:22): connection refused'}
    await expect(fake.exec(['true'])).rejects.toMatchObject(unreachable)
    await expect(fake.writeFileAtomic('/etc/x', 'x')).rejects.toMatchObject(unreachable)
    await expect(fake.readFileIfExists('/etc/x')).rejects.toMatchObject(unreachable)
    expect(fake.calls).toHaveLength(0)
  })

  it('lists only writes that changed something', async () => {
    const fake = new FakeHost().setFile('/etc/osctl/a', 'same')
    await fake.writeFileAtomic('/etc/osctl/a', 'same')
    await fake.writeFileAtomic('/etc/osctl/b', 'new', {mode: 0o600, owner: 'root:root'})
    expect(fake.ops).toEqual(['write /etc/osctl/b'])
    expect(fake.files.get('/etc/osctl/b')).toMatchObject({mode: 0o600, owner: 'root:root'})
    expect(fake.text('/etc/osctl/b')).toBe('new')
  })
})

describe('hostsFor', () => {
  it('builds one lazily connecting SshHost per inventory host', () => {
    const site = {config: {sshKnownHosts: '/etc/osctl/known_hosts', sshHostKeyPolicy: 'strict' as const}}
    const hosts = hostsFor(site, [
      {name: 'ctl-1', address: '10.0.0.2', ssh: {user: 'root', port: 22}, groups: ['control']},
      {name: 'cmp-1', address: '10.0.0.3', ssh: {user: 'ops', port: 2222, keyFile: '/k'}, groups: ['compute']},
    ])
    expect(hosts.map((h) => [h.name, h.address])).toEqual([['ctl-1', '10.0.0.2'], ['cmp-1', '10.0.0.3']])
    expect(hosts[1]).toBeInstanceOf(SshHost)
    expect((hosts[1] as SshHost).target).toMatchObject({port: 2222, user: 'ops', keyFile: '/k', knownHostsFile: '/etc/osctl/known_hosts', hostKeyPolicy: 'strict'})
  })
})
