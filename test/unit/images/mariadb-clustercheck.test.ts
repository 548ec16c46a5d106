import {execa, type ResultPromise} from 'execa'
import {chmod, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createConnection, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {IMAGES_DIR} from '../../../src/paths.js'

/**
 * images/mariadb/osctl-mariadb-clustercheck, the Galera node's haproxy agent, run here with a
 * stand-in `mariadb` client that prints what a node's SHOW GLOBAL STATUS would (or fails, or
 * hangs): the line haproxy reads for each state. The real client and haproxy: ha.test.
 */
const SCRIPT = join(IMAGES_DIR, 'mariadb', 'osctl-mariadb-clustercheck')
let dir: string
let port: number
let agent: ResultPromise

/** What the stand-in client does next: print these status rows, exit 1 with an error, or hang. */
async function node(state: {local: string; cluster?: string; ready?: string; size: number} | 'refused' | 'hung') {
  const body =
    state === 'refused'
      ? `echo "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (111)" >&2; exit 1`
      : state === 'hung'
        ? 'exec sleep 30'
        : `printf 'wsrep_cluster_size\\t%s\\nwsrep_cluster_status\\t%s\\nwsrep_local_state_comment\\t%s\\nwsrep_ready\\t%s\\n' ${state.size} ${state.cluster ?? 'Primary'} '${state.local}' ${state.ready ?? 'ON'}`
  await writeFile(join(dir, 'mariadb'), `#!/bin/sh\n${body}\n`)
  await chmod(join(dir, 'mariadb'), 0o755)
  // Past the agent's shared-answer window (0.5 s).
  await sleep(600)
}

/** One agent check as haproxy makes it: connect, read until the agent closes. */
function ask(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({host: '127.0.0.1', port})
    let text = ''
    s.setEncoding('utf8')
    s.on('data', (d) => (text += d))
    s.on('end', () => resolve(text))
    s.on('error', reject)
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'osctl-clustercheck-'))
  await node({local: 'Synced', size: 3})
  port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as {port: number}).port
      srv.close(() => resolve(p))
    })
  })
  agent = execa('python3', [SCRIPT, '--address=127.0.0.1', `--port=${port}`], {env: {PATH: `${dir}:${process.env.PATH}`}, reject: false})
  for (let i = 0; i < 50; i++) {
    if (await ask().then(() => true, () => false)) break
    await sleep(100)
  }
})
afterAll(async () => {
  agent?.kill()
  await agent
  await rm(dir, {recursive: true, force: true})
})

describe('the Galera node agent haproxy asks (osctl-mariadb-clustercheck)', () => {
  it('up only when Synced in a Primary component and ready; every other state is down with why ("#" after a space: haproxy\'s description)', async () => {
    expect(await ask()).toBe('up\n')
    await node({local: 'Joined', size: 3})
    expect(await ask()).toBe('down #galera node is Joined in a Primary component of 3 (wsrep_ready ON)\n')
    await node({local: 'Joiner', size: 3, ready: 'OFF'})
    expect(await ask()).toBe('down #galera node is Joiner in a Primary component of 3 (wsrep_ready OFF)\n')
    await node({local: 'Synced', cluster: 'non-Primary', size: 1, ready: 'OFF'})
    expect(await ask()).toBe('down #galera node is Synced in a non-Primary component of 1 (wsrep_ready OFF)\n')
    // haproxy's stats CSV splits on commas: none in a description.
    await node('refused')
    const refused = await ask()
    expect(refused).toMatch(/^down #mariadb does not answer: ERROR 2002 \(HY000\): Can't connect to local server/)
    expect(refused).not.toContain(',')
  })

  it('a donor is down while another node can serve (3 in its component), up when it is the only one (itself and its joiner)', async () => {
    await node({local: 'Donor/Desynced', size: 3})
    expect(await ask()).toBe('down #galera node is Donor/Desynced in a Primary component of 3 (wsrep_ready ON)\n')
    await node({local: 'Donor/Desynced', size: 2})
    expect(await ask()).toBe('up\n')
  })

  it('a hung server is said down (the client given 2 s, inside haproxy\'s 3 s check timeout), not left to a layer-4 check that passes', async () => {
    await node('hung')
    expect(await ask()).toBe('down #mariadb did not answer in 2 s\n')
    await node({local: 'Synced', size: 3})
    expect(await ask()).toBe('up\n')
  })
})
