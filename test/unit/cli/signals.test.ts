import {execa} from 'execa'
import {chmod, rm, writeFile} from 'node:fs/promises'
import {type AddressInfo, type Server, type Socket, createServer} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import ssh2 from 'ssh2'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {makeSite, yaml} from '../../fixtures/sites/make-site.js'
import {REPO_ROOT, runCli} from '../../helpers/cli.js'

/**
 * SIGINT/SIGTERM against a host that accepts TCP and never answers (osctl stays mid-step): reads
 * exit 130 at once; commands that change hosts say they finish the running step first, and a
 * second signal exits 130 at once.
 */
describe('signals', () => {
  let site: string
  let server: Server
  const sockets: Socket[] = []

  beforeAll(async () => {
    server = createServer((s) => void sockets.push(s))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    site = await makeSite({
      'inventory.yml': yaml('defaults:', '  ssh_user: root', '  ssh_key: id_ed25519', 'hosts:', '  h1:', '    address: 127.0.0.1', `    ssh_port: ${port}`, 'groups:', '  deploy: [h1]', '  control: [h1]', '  compute: [h1]'),
    })
    await writeFile(join(site, 'id_ed25519'), ssh2.utils.generateKeyPairSync('ed25519').private, {mode: 0o600})
    await writeFile(join(site, 'known_hosts'), '', {mode: 0o600})
    await chmod(join(site, 'passwords.yml'), 0o600)
    // Every secret the site needs (none falls back to a built-in value).
    expect((await runCli(['genpwd'], {env: {OSCTL_SITE: site}})).exitCode).toBe(0)
  })
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    server?.close()
    if (site) await rm(site, {recursive: true, force: true})
  })

  const start = (args: string[]) => {
    const child = execa('node', [join(REPO_ROOT, 'bin', 'run.js'), ...args], {reject: false, env: {OSCTL_SITE: site}, stdin: 'ignore', timeout: 60_000})
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    return {child, stderr: () => stderr}
  }
  /**
   * Until the CLI holds a connection to the silent host: it is mid-step. Up to 40 s: a CLI started
   * beside the suite's other work once took over 10 s to get there (the full suite's first minutes),
   * and how soon it connects is not what these tests are about.
   */
  const connected = async (n: number) => {
    for (let i = 0; i < 800 && sockets.length < n; i++) await sleep(50)
    expect(sockets.length).toBeGreaterThanOrEqual(n)
  }

  it('a read-only command exits 130 at the first SIGTERM', async () => {
    const {child} = start(['system', 'list'])
    await connected(1)
    child.kill('SIGTERM')
    const r = await child
    expect(r.exitCode).toBe(130)
  }, 60_000)

  it('a command that changes hosts finishes its step on the first SIGINT and exits 130 at once on the second', async () => {
    const before = sockets.length
    const {child, stderr} = start(['system', 'upgrade', 'etcd', '--tag', 't2', '--progress', 'plain'])
    await connected(before + 1)
    child.kill('SIGINT')
    for (let i = 0; i < 100 && !stderr().includes('SIGINT received'); i++) await sleep(50)
    expect(stderr()).toContain('SIGINT received: finishing the running step, then stopping')
    // Still running: the step (reaching the host) has not finished.
    await sleep(500)
    expect(child.exitCode).toBeNull()
    child.kill('SIGINT')
    const r = await child
    expect(r.exitCode).toBe(130)
    expect(String(r.stderr)).toContain('SIGINT again: exiting now')
  }, 60_000)
})
