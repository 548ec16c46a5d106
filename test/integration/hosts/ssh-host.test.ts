import {readFile, writeFile} from 'node:fs/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {fanOut, summarize} from '../../../src/hosts/fan-out.js'
import {SshHost} from '../../../src/hosts/ssh-host.js'
import {hostContract} from './host-contract.js'
import {type LocalSshd, freePort, startSshd} from './local-sshd.js'

async function failure(p: Promise<unknown>): Promise<OsctlError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(OsctlError)
  return err as OsctlError
}

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('SshHost against a real sshd', () => {
  let sshd: LocalSshd
  const opened: SshHost[] = []
  const host = (overrides: Parameters<LocalSshd['target']>[0] = {}) => {
    const h = new SshHost(sshd.target(overrides))
    opened.push(h)
    return h
  }

  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(async () => {
    await Promise.allSettled(opened.map((h) => h.close()))
    await sshd?.stop()
  })

  hostContract('SshHost', async () => host(), async () => ({address: '127.0.0.1', port: sshd.port, greeting: /^SSH-2\.0-/}))

  it('openTcp to a host whose sshd forbids TCP forwarding: an error that says so and how to allow it', async () => {
    const strict = await startSshd(['AllowTcpForwarding no'])
    const h = new SshHost(strict.target())
    try {
      expect(await h.run(['true'])).toBe('')
      const err = await failure(h.openTcp('127.0.0.1', strict.port))
      expect(err.message).toBe(`${h.name}: its sshd does not allow TCP forwarding, which osctl needs to reach 127.0.0.1:${strict.port} from the host`)
      expect(err.hint).toMatch(/AllowTcpForwarding local/)
    } finally {
      await h.close()
      await strict.stop()
    }
  })

  it('runs commands and writes files atomically over one connection', async () => {
    const h = host({name: 'lab-1'})
    expect(await h.run(['id', '-un'])).toBe(`${sshd.user}\n`)
    const p = `${sshd.dir}/remote/app.conf`
    expect(await h.writeFileAtomic(p, 'x = 1\n', {mode: 0o640})).toBe(true)
    expect(await h.writeFileAtomic(p, 'x = 1\n', {mode: 0o640})).toBe(false)
    expect((await h.readFile(p)).toString()).toBe('x = 1\n')
    // Many operations at once share the connection; more than sshd's MaxSessions must still work.
    const outs = await Promise.all(Array.from({length: 25}, (_, i) => h.run(['echo', String(i)])))
    expect(outs).toEqual(Array.from({length: 25}, (_, i) => `${i}\n`))
  })

  it('createFile and createFileAndReadDir fail whole when the owner cannot be set: no file left, no directory read', async () => {
    const h = host()
    for (const create of [(p: string) => h.createFile(p, 'x\n', {owner: 'no-such-user-osctl'}), (p: string) => h.createFileAndReadDir(p, 'x\n', {owner: 'no-such-user-osctl'})]) {
      const p = `${sshd.dir}/owned/${Math.random().toString(36).slice(2)}.json`
      const err = await failure(create(p))
      expect(err.message).toContain(p)
      expect(await h.exists(p)).toBe(false)
      expect((await h.run(['ls', '-A', `${sshd.dir}/owned`])).trim()).toBe('')
    }
  })

  it('reconnects after the connection was closed', async () => {
    const h = host()
    expect(await h.run(['true'])).toBe('')
    await h.close()
    expect(await h.run(['echo', 'again'])).toBe('again\n')
  })

  it('accept-new records the host key; a changed key is refused naming file:line', async () => {
    const knownHostsFile = `${sshd.dir}/known_hosts.rotate`
    await writeFile(knownHostsFile, '# managed by test\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake\n')
    const first = host({name: 'lab-2', knownHostsFile})
    await first.run(['true'])
    await first.close()
    const recorded = await readFile(knownHostsFile, 'utf8')
    expect(recorded).toContain(`[127.0.0.1]:${sshd.port} ${await sshd.hostPublicKey()}`)

    await sshd.rotateHostKey()
    const err = await failure(host({name: 'lab-2', knownHostsFile}).run(['true']))
    expect(err.code).toBe('HOST_KEY_MISMATCH')
    expect(err.message).toContain('lab-2')
    expect(err.message).toContain(`127.0.0.1:${sshd.port}`)
    expect(err.message).toMatch(/SHA256:[A-Za-z0-9+/]{43}/)
    expect(err.message).toContain(`${knownHostsFile}:3`)
    expect(err.hint).toContain(`ssh-keygen -f ${knownHostsFile} -R '[127.0.0.1]:${sshd.port}'`)
    // Refusing must not have touched the file.
    expect(await readFile(knownHostsFile, 'utf8')).toBe(recorded)
  })

  it('parallel accept-new connections record the key exactly once', async () => {
    const knownHostsFile = `${sshd.dir}/known_hosts.parallel`
    await Promise.all(Array.from({length: 6}, () => host({knownHostsFile}).run(['true'])))
    const lines = (await readFile(knownHostsFile, 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(1)
  })

  it('strict refuses an unknown host key', async () => {
    const err = await failure(host({name: 'lab-3', hostKeyPolicy: 'strict'}).run(['true']))
    expect(err.code).toBe('HOST_KEY_UNKNOWN')
    expect(err.message).toContain('lab-3')
    expect(err.message).toMatch(/SHA256:/)
  })

  it('strict accepts a key already in known_hosts', async () => {
    const knownHostsFile = `${sshd.dir}/known_hosts.strict`
    await writeFile(knownHostsFile, `[127.0.0.1]:${sshd.port} ${await sshd.hostPublicKey()}\n`)
    expect(await host({hostKeyPolicy: 'strict', knownHostsFile}).run(['echo', 'ok'])).toBe('ok\n')
  })

  it('an unauthorized key fails with HOST_AUTH naming user and key file', async () => {
    const err = await failure(host({name: 'lab-4', keyFile: sshd.wrongKeyFile}).run(['true']))
    expect(err.code).toBe('HOST_AUTH')
    expect(err.message).toContain(`${sshd.user}@lab-4`)
    expect(err.message).toContain(sshd.wrongKeyFile)
  })

  it('a closed port fails with HOST_UNREACHABLE: connection refused', async () => {
    const port = await freePort()
    const err = await failure(host({name: 'lab-5', port}).run(['true']))
    expect(err.code).toBe('HOST_UNREACHABLE')
    expect(err.message).toBe(`cannot reach lab-5 (127.0.0.1:${port}): connection refused`)
  })

  it('fanOut over a good and a dead host reports one ok, one failed, exit 3', async () => {
    const dead = await freePort()
    const hosts = [host({name: 'good'}), host({name: 'dead', port: dead})]
    const results = await fanOut(hosts, 4, (h) => h.run(['hostname']))
    expect(results.map((r) => [r.host, r.ok])).toEqual([['good', true], ['dead', false]])
    expect(results[1].error?.code).toBe('HOST_UNREACHABLE')
    expect(summarize(results)).toEqual({ok: ['good'], failed: ['dead'], exitCode: 3})
  })
})
