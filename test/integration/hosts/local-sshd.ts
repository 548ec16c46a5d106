import {execa} from 'execa'
import {type ChildProcess, spawn} from 'node:child_process'
import {once} from 'node:events'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createConnection, createServer} from 'node:net'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type {SshTarget} from '../../../src/hosts/ssh-host.js'

const SSHD = '/usr/sbin/sshd'

/** A real OpenSSH server on 127.0.0.1 with a throwaway host key and one authorized client key. */
export interface LocalSshd {
  port: number
  user: string
  dir: string
  /** Authorized private key. */
  keyFile: string
  /** A valid key that is NOT authorized. */
  wrongKeyFile: string
  /** `ssh-ed25519 AAAA…` of the current host key. */
  hostPublicKey(): Promise<string>
  /** A target for this server; each call gets a fresh known_hosts path unless given one. */
  target(overrides?: Partial<SshTarget>): SshTarget
  /** Restarts on the same port with a brand-new host key (a "reinstalled" host). */
  rotateHostKey(): Promise<void>
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

async function keygen(file: string): Promise<void> {
  await rm(file, {force: true})
  await rm(`${file}.pub`, {force: true})
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'osctl-test', '-f', file])
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`)
    const open = await new Promise<boolean>((resolve) => {
      const s = createConnection({port, host: '127.0.0.1'})
      s.once('connect', () => (s.destroy(), resolve(true)))
      s.once('error', () => resolve(false))
    })
    if (open) return
    await sleep(50)
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s: ${log()}`)
}

/**
 * Starts sshd in the foreground. Fails loudly (never skips) when OpenSSH is missing: the tests that
 * use it are only skipped through OSCTL_SKIP_INTEGRATION=1.
 */
/** `extra`: more sshd_config lines (e.g. `AllowTcpForwarding no`). */
export async function startSshd(extra: string[] = []): Promise<LocalSshd> {
  if (!existsSync(SSHD)) {
    throw new Error(`${SSHD} not found: install openssh-server (apt-get install -y openssh-server) or set OSCTL_SKIP_INTEGRATION=1`)
  }
  const dir = await mkdtemp(join(tmpdir(), 'osctl-sshd-'))
  const user = userInfo().username
  const hostKey = join(dir, 'host_ed25519')
  const keyFile = join(dir, 'client_ed25519')
  const wrongKeyFile = join(dir, 'wrong_ed25519')
  await Promise.all([keygen(hostKey), keygen(keyFile), keygen(wrongKeyFile)])
  await writeFile(join(dir, 'authorized_keys'), await readFile(`${keyFile}.pub`), {mode: 0o600})
  const port = await freePort()
  const config = join(dir, 'sshd_config')
  await writeFile(config, [
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    // The key files live under /tmp, which StrictModes would reject as world-writable.
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'MaxStartups 100',
    'LogLevel ERROR',
    // bash sources ~/.bashrc for commands sshd starts (Debian builds it so) unless SHLVL says it is
    // nested: this machine's root .bashrc runs pyenv init, 0.9 s of CPU for every command a test runs.
    'SetEnv SHLVL=1',
    ...extra,
    '',
  ].join('\n'))
  // Root sshd insists on its privilege-separation directory.
  if (process.getuid?.() === 0) await mkdir('/run/sshd', {recursive: true, mode: 0o755})

  // Plain spawn, waiting for 'exit' only: the per-connection sshd children of still-open sessions
  // inherit stderr, so waiting for the pipes to close (as execa does) would hang.
  let child: ChildProcess | undefined
  let log = ''
  const start = async () => {
    log = ''
    child = spawn(SSHD, ['-D', '-e', '-f', config, '-p', String(port), '-o', 'ListenAddress=127.0.0.1'], {stdio: ['ignore', 'ignore', 'pipe']})
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()))
    await waitForPort(port, child, () => log)
  }
  const stop = async () => {
    if (!child || child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
    child.stderr?.destroy()
    child = undefined
  }
  await start()

  let n = 0
  return {
    port,
    user,
    dir,
    keyFile,
    wrongKeyFile,
    hostPublicKey: async () => (await readFile(`${hostKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' '),
    target: (overrides = {}) => ({
      name: 'sshd-test',
      address: '127.0.0.1',
      port,
      user,
      keyFile,
      knownHostsFile: join(dir, `known_hosts.${++n}`),
      hostKeyPolicy: 'accept-new',
      connectTimeoutMs: 5000,
      ...overrides,
    }),
    rotateHostKey: async () => {
      await stop()
      await keygen(hostKey)
      await start()
    },
    stop: async () => {
      await stop()
      await rm(dir, {recursive: true, force: true})
    },
  }
}
