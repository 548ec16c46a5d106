import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer as createHttpServer} from 'node:http'
import {type Server, type Socket, connect, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {SshDockerClient} from '../../../src/docker/ssh-docker.js'
import {OsctlError} from '../../../src/errors.js'
import {SshHost} from '../../../src/hosts/ssh-host.js'
import {runCli} from '../../helpers/cli.js'
import {type LocalSshd, startSshd} from './local-sshd.js'

/** A TCP peer on 127.0.0.1 that accepts and then misbehaves the way a broken or hostile host does. */
interface Peer {
  port: number
  accepted: number
  close(): Promise<void>
}

async function peer(behave: (s: Socket) => void, address = '127.0.0.1'): Promise<Peer> {
  const sockets = new Set<Socket>()
  const p: Peer & {srv?: Server} = {port: 0, accepted: 0, close: async () => undefined}
  const srv = createServer((s) => {
    p.accepted++
    sockets.add(s)
    s.on('error', () => undefined)
    s.on('close', () => sockets.delete(s))
    behave(s)
  })
  await new Promise<void>((resolve) => srv.listen(0, address, resolve))
  p.port = (srv.address() as {port: number}).port
  p.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => srv.close(() => resolve()))
  }
  return p
}

const silent = () => peer(() => undefined)
const resetting = (address?: string) => peer((s) => s.resetAndDestroy(), address)
const closing = () => peer((s) => s.end())
const notSsh = () => peer((s) => s.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'))

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('SSH faults: every failure is one per-host error, never an unhandled event', () => {
  let sshd: LocalSshd
  const peers: Peer[] = []
  const hosts: SshHost[] = []
  let unhandled: unknown[] = []
  const onUnhandled = (e: unknown) => unhandled.push(e)

  beforeAll(async () => {
    sshd = await startSshd()
    process.on('uncaughtException', onUnhandled)
    process.on('unhandledRejection', onUnhandled)
  })
  afterAll(async () => {
    process.off('uncaughtException', onUnhandled)
    process.off('unhandledRejection', onUnhandled)
    await Promise.allSettled(hosts.map((h) => h.close()))
    await Promise.allSettled(peers.map((p) => p.close()))
    await sshd?.stop()
  })

  /** Runs one command on a host at `port`, returns the error, then waits for stray late events. */
  async function failAt(port: number, overrides: Parameters<LocalSshd['target']>[0] = {}): Promise<OsctlError> {
    unhandled = []
    const h = new SshHost(sshd.target({name: 'lab-9', port, connectTimeoutMs: 1500, ...overrides}))
    hosts.push(h)
    const started = Date.now()
    const err = await h.run(['true']).then(() => undefined, (e: unknown) => e)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(err).toBeInstanceOf(OsctlError)
    // ssh2 emits a second error ("Connection lost before handshake") when the socket closes after a
    // timeout: give it time to arrive, then the process must still have no unhandled error.
    await sleep(500)
    await h.close()
    expect(unhandled).toEqual([])
    return err as OsctlError
  }

  it('a peer that accepts TCP and never speaks: HOST_UNREACHABLE after the handshake timeout, exit 5', async () => {
    const p = await silent()
    peers.push(p)
    const err = await failAt(p.port)
    expect(err.code).toBe('HOST_UNREACHABLE')
    expect(err.exitCode).toBe(5)
    expect(err.message).toBe(`cannot reach lab-9 (127.0.0.1:${p.port}): port ${p.port} accepted the connection but no SSH handshake came within 1.5 s`)
    expect(err.hint).toContain('ssh_port (hosts.lab-9 or defaults)')
    expect(err.hint).not.toMatch(/ssh\.\w+/)
    expect(p.accepted).toBe(1)
  })

  it('a peer that speaks something else than SSH: same, the hint says it may not be sshd', async () => {
    const p = await notSsh()
    peers.push(p)
    const err = await failAt(p.port)
    expect(err.code).toBe('HOST_UNREACHABLE')
    expect(err.hint).toContain('something other than sshd')
  })

  it('a peer that resets the connection: HOST_UNREACHABLE, connection reset', async () => {
    const p = await resetting()
    peers.push(p)
    const err = await failAt(p.port)
    expect(err.code).toBe('HOST_UNREACHABLE')
    expect(err.message).toMatch(/connection reset by peer/)
    expect(err.hint).toContain('hosts.lab-9.address')
  })

  it('a peer that closes before the handshake: HOST_UNREACHABLE, closed before the handshake', async () => {
    const p = await closing()
    peers.push(p)
    const err = await failAt(p.port)
    expect(err.code).toBe('HOST_UNREACHABLE')
    expect(err.message).toBe(`cannot reach lab-9 (127.0.0.1:${p.port}): the connection was closed before the SSH handshake`)
    expect(err.hint).toMatch(/MaxStartups/)
  })

  it('a real sshd with a key it does not accept: HOST_AUTH, hint names ssh_user and ssh_key', async () => {
    const err = await failAt(sshd.port, {keyFile: sshd.wrongKeyFile})
    expect(err.code).toBe('HOST_AUTH')
    expect(err.exitCode).toBe(5)
    expect(err.hint).toContain(`${sshd.wrongKeyFile}.pub`)
    expect(err.hint).toContain('ssh_user (hosts.lab-9 or defaults) / ssh_key (hosts.lab-9 or defaults) in inventory.yml')
  })

  it('a real sshd whose host key changed: HOST_KEY_MISMATCH with the ssh-keygen -R hint', async () => {
    const knownHostsFile = join(sshd.dir, 'known_hosts.faults')
    // A valid ed25519 key, but not this server's: what a reinstalled host or a man in the middle presents.
    const other = (await readFile(`${sshd.wrongKeyFile}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ')
    await writeFile(knownHostsFile, `[127.0.0.1]:${sshd.port} ${other}\n`)
    const err = await failAt(sshd.port, {knownHostsFile, hostKeyPolicy: 'strict'})
    expect(err.code).toBe('HOST_KEY_MISMATCH')
    expect(err.exitCode).toBe(5)
    expect(err.location).toBe(`${knownHostsFile}:1`)
    expect(err.hint).toContain(`ssh-keygen -f ${knownHostsFile} -R '[127.0.0.1]:${sshd.port}'`)
  })

  it('the Docker socket over SSH: a host lost mid-request or before a forward opens is HOST_UNREACHABLE; a live host without the socket is DOCKER_UNAVAILABLE', async () => {
    unhandled = []
    const dir = await mkdtemp(join(tmpdir(), 'osctl-ssh-docker-'))
    // A Docker engine stand-in on a unix socket: /_ping answers, anything else never does.
    const socketPath = join(dir, 'docker.sock')
    const engine = createHttpServer((req, res) => {
      if (req.url?.endsWith('/_ping')) res.end('OK')
    })
    await new Promise<void>((resolve) => engine.listen(socketPath, resolve))
    // The "power cable": a TCP relay in front of sshd; cut() drops every relayed connection, hold() stops relaying bytes.
    const pairs = new Set<Socket[]>()
    let holding = false
    const relay = createServer((a) => {
      const b = connect(sshd.port, '127.0.0.1')
      const pair = [a, b]
      pairs.add(pair)
      for (const [from, to] of [[a, b], [b, a]]) {
        from.on('data', (d: Buffer) => holding || to.write(d))
        from.on('error', () => undefined)
        from.on('close', () => (to.destroy(), pairs.delete(pair)))
      }
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    const port = (relay.address() as {port: number}).port
    const cut = () => {
      for (const p of pairs) for (const s of p) s.destroy()
    }
    const host = new SshHost(sshd.target({name: 'lab-9', port}))
    const docker = new SshDockerClient(host, socketPath)
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof OsctlError ? e.code : `raw: ${String(e)}`))
    try {
      await docker.ping()
      // In flight: the request was sent, the host vanishes before the answer.
      const inflight = code(docker.raw.getContainer('slow').inspect())
      await sleep(300)
      cut()
      expect(await inflight).toBe('HOST_UNREACHABLE')
      // Before the forward opens: the relay stops passing bytes, a request waits for its channel, then the cable goes.
      await docker.ping()
      holding = true
      const pending = code(docker.raw.getContainer('slow').inspect())
      await sleep(300)
      relay.close()
      cut()
      expect(await pending).toBe('HOST_UNREACHABLE')
      // And the next request, with nothing listening any more, is the host's connect error.
      expect(await code(docker.ping())).toBe('HOST_UNREACHABLE')
      // A live host whose Docker socket is not there: the engine is the problem, not the host.
      const live = new SshHost(sshd.target({name: 'lab-9'}))
      const noEngine = new SshDockerClient(live, join(dir, 'absent.sock'))
      expect(await code(noEngine.ping())).toBe('DOCKER_UNAVAILABLE')
      await noEngine.close()
      await live.close()
      await sleep(300)
      expect(unhandled).toEqual([])
    } finally {
      await docker.close()
      await host.close()
      relay.close()
      engine.closeAllConnections()
      engine.close()
      await rm(dir, {recursive: true, force: true})
    }
  }, 60_000)

  it('the CLI: hosts that never finish the handshake or reset give exit 5 and per-host errors, text and --json, no stack', async () => {
    const [quiet, reset] = [await silent(), await resetting('127.0.0.2')]
    peers.push(quiet, reset)
    const site = await mkdtemp(join(tmpdir(), 'osctl-ssh-faults-'))
    try {
      await writeFile(join(site, 'osctl.yml'), 'registry: 127.0.0.1:9\nssh_host_key_policy: accept-new\n')
      await writeFile(join(site, 'inventory.yml'), [
        'defaults:', `  ssh_key: ${sshd.keyFile}`, 'hosts:',
        `  lab-1: {address: 127.0.0.1, ssh_port: ${quiet.port}}`,
        `  lab-2: {address: 127.0.0.2, ssh_port: ${reset.port}}`,
        'groups:', '  deploy: [lab-1]', '  control: [lab-1]', '  compute: [lab-2]', '',
      ].join('\n'))
      await writeFile(join(site, 'passwords.yml'), '', {mode: 0o600})
      for (const json of [false, true]) {
        const r = await runCli(['service', 'list', '--site', site, ...(json ? ['--json'] : [])], {timeoutMs: 60_000})
        const out = `${r.stdout}\n${r.stderr}`
        expect(r.exitCode, out).toBe(5)
        expect(out).not.toMatch(/Unhandled|\n\s+at /)
        expect(out).toContain('lab-1 (127.0.0.1')
        expect(out).toContain('no SSH handshake')
        expect(out).toContain('lab-2 (127.0.0.2')
        if (json) expect(() => JSON.parse(r.stdout)).not.toThrow()
      }
    } finally {
      await rm(site, {recursive: true, force: true})
    }
  }, 120_000)
})
