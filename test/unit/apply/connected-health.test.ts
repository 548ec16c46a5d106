import {type ChildProcess, spawn} from 'node:child_process'
import {createServer, type Server} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {probeHealth, waitContainerHealthy} from '../../../src/apply/container-health.js'
import type {ContainerClient, ContainerInfo} from '../../../src/docker/docker-client.js'
import {LocalHost} from '../../../src/hosts/local-host.js'

/**
 * The connected check's host-side script on this machine's real /proc: a "container" is a process
 * tree (a main process and its children, as Docker's State.Pid and what it starts), one child named
 * like a service (argv[0] …/bin/fake-conductor) holding a TCP connection to a local server, as
 * nova-conductor holds one to rabbitmq.
 */
let server: Server
let port: number
let otherPort: number
const started: ChildProcess[] = []
let connections = 0

/**
 * A main process (bash) whose child runs as argv0 `/usr/bin/NAME` and, when `connectTo`, connects
 * there and stays (returned once the server saw the connection); `churn`: the main process also
 * starts and ends short-lived children all the time, as agents' rootwrap calls do.
 */
async function container(name: string, connectTo?: number, churn = false): Promise<number> {
  const child = connectTo
    ? `exec -a /usr/bin/${name} node -e 'require("net").connect(${connectTo}, "127.0.0.1"); setInterval(() => {}, 1000)'`
    : `exec -a /usr/bin/${name} sleep 600`
  const before = connections
  const main = spawn('bash', ['-c', `${churn ? 'while :; do /bin/true; done & ' : ''}bash -c '${child.replaceAll("'", "'\\''")}' & wait`], {stdio: 'ignore', detached: true})
  started.push(main)
  for (const deadline = Date.now() + 10_000; connectTo && connections === before && Date.now() < deadline; ) await sleep(20)
  if (!connectTo) await sleep(100)
  return main.pid!
}

const host = new LocalHost()
const docker = (pid: number | undefined, state = 'running') =>
  ({inspectContainer: async (): Promise<ContainerInfo> => ({id: 'x', name: 'c', image: 'i', imageId: 's', labels: {}, state, ...(pid ? {pid} : {})})}) as unknown as ContainerClient

beforeAll(async () => {
  server = createServer((s) => (connections++, s.on('error', () => {})))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as {port: number}).port
  const other = createServer()
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r))
  otherPort = (other.address() as {port: number}).port
  other.close()
})
afterAll(() => {
  // Each "container" is a process group (detached): its children go with it.
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  server.close()
})

describe('connected health check (read from the host: the container\'s processes, their sockets, its TCP table)', () => {
  it('healthy when a process named bin/PROCESS, a descendant of the main process, holds a connection to PORT', async () => {
    const pid = await container('fake-conductor', port)
    const check = {kind: 'connected' as const, target: `fake-conductor:${port}`}
    expect(await probeHealth(host, check, {docker: docker(pid), container: 'c'})).toEqual({healthy: true, detail: `a fake-conductor process is connected to port ${port}`})
    // Another port, another process name: not healthy, and the detail says which part failed.
    expect(await probeHealth(host, {...check, target: `fake-conductor:${otherPort}`}, {docker: docker(pid), container: 'c'})).toEqual({
      healthy: false,
      detail: `no fake-conductor process is connected to port ${otherPort}`,
    })
    expect(await probeHealth(host, {...check, target: `fake-scheduler:${port}`}, {docker: docker(pid), container: 'c'})).toEqual({
      healthy: false,
      detail: 'no fake-scheduler process runs in the container',
    })
  })

  it('a process tree whose short-lived children come and go while it is read (the probe neither fails nor loops)', async () => {
    const pid = await container('fake-churner', port, true)
    for (let i = 0; i < 5; i++) {
      expect(await probeHealth(host, {kind: 'connected', target: `fake-churner:${port}`}, {docker: docker(pid), container: 'c'})).toEqual({healthy: true, detail: `a fake-churner process is connected to port ${port}`})
    }
  })

  it('a process of the right name in another process tree does not count', async () => {
    await container('fake-agent', port)
    const unrelated = await container('something-else')
    expect((await probeHealth(host, {kind: 'connected', target: `fake-agent:${port}`}, {docker: docker(unrelated), container: 'c'})).healthy).toBe(false)
  })

  it('the named process without the connection is not healthy; a container that does not run says so', async () => {
    const pid = await container('fake-idle')
    expect(await probeHealth(host, {kind: 'connected', target: `fake-idle:${port}`}, {docker: docker(pid), container: 'c'})).toEqual({healthy: false, detail: `no fake-idle process is connected to port ${port}`})
    expect(await probeHealth(host, {kind: 'connected', target: `fake-idle:${port}`}, {docker: docker(undefined, 'exited'), container: 'c'})).toEqual({healthy: false, detail: 'c is not running'})
  })

  it('the gate inspects once per round and fails at once when the container exits', async () => {
    let inspects = 0
    const gone = {inspectContainer: async () => (inspects++, {id: 'x', name: 'c', image: 'i', imageId: 's', labels: {}, state: 'exited', exitCode: 3})} as unknown as ContainerClient
    expect(await waitContainerHealthy(host, gone, 'c', {kind: 'connected', target: `fake-x:${port}`, timeoutSeconds: 30}, {intervalMs: 1})).toEqual({healthy: false, detail: 'c exited with 3'})
    expect(inspects).toBe(1)
  })
})

describe('tcp then exec: the host-side check first, the container only once it holds', () => {
  it('runs no docker exec while nothing listens, then the exec decides', async () => {
    const ran: string[][] = []
    const engine = {exec: async (_c: string, argv: string[]) => (ran.push(argv), {exitCode: 0, stdout: '', stderr: ''})} as unknown as ContainerClient
    const check = {kind: 'exec' as const, target: 'rabbitmqctl eval', first: {kind: 'tcp' as const, target: `127.0.0.1:${otherPort}`}}
    expect(await probeHealth(host, check, {docker: engine, container: 'rabbitmq'})).toEqual({healthy: false, detail: `nothing accepts connections on 127.0.0.1:${otherPort}`})
    expect(ran).toEqual([])
    expect(await probeHealth(host, {...check, first: {kind: 'tcp', target: `127.0.0.1:${port}`}}, {docker: engine, container: 'rabbitmq'})).toEqual({healthy: true, detail: '`rabbitmqctl eval` succeeded'})
    expect(ran).toEqual([['sh', '-c', 'rabbitmqctl eval']])
  })

  it('connected then exec (nova-compute with libvirt): the exec only once the process is on the bus', async () => {
    const ran: string[][] = []
    const pid = await container('fake-compute')
    const engine = (p: number) =>
      ({
        exec: async (_c: string, argv: string[]) => (ran.push(argv), {exitCode: 1, stdout: '', stderr: 'libvirtd does not answer'}),
        inspectContainer: async () => ({id: 'x', name: 'c', image: 'i', imageId: 's', labels: {}, state: 'running', pid: p}),
      }) as unknown as ContainerClient
    const check = {kind: 'exec' as const, target: 'osctl-libvirt-check', first: {kind: 'connected' as const, target: `fake-compute:${port}`}, timeoutSeconds: 1}
    expect(await waitContainerHealthy(host, engine(pid), 'c', check, {intervalMs: 100})).toEqual({healthy: false, detail: `not healthy after 1s: no fake-compute process is connected to port ${port}`})
    expect(ran).toEqual([])
    const onBus = await container('fake-compute', port)
    expect(await probeHealth(host, check, {docker: engine(onBus), container: 'c'})).toEqual({healthy: false, detail: '`osctl-libvirt-check` exited with 1: libvirtd does not answer'})
    expect(ran).toEqual([['sh', '-c', 'osctl-libvirt-check']])
  })
})
