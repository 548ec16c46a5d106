import {mkdtemp, readFile, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {localDocker} from '../../../src/docker/docker-client.js'
import {closeAll, hostsFor} from '../../../src/hosts/connect.js'
import {fanOut, summarize} from '../../../src/hosts/fan-out.js'
import type {Host} from '../../../src/hosts/host.js'
import type {LabUpResult} from '../../../src/lab/lab-up.js'
import {LABEL_LAB} from '../../../src/lab/names.js'
import {loadSite} from '../../../src/site/load-site.js'
import {runCli} from '../../helpers/cli.js'
import {hostContract} from '../hosts/host-contract.js'

// One lab per test file (and per run): parallel runs on one engine never share hosts.
const LAB = `t${process.pid}`
const docker = localDocker()

async function cli(args: string[]): Promise<unknown> {
  const r = await runCli([...args, '--json'], {timeoutMs: 900_000})
  if (r.exitCode !== 0) throw new Error(`osctl ${args.join(' ')} exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(r.stdout)
}

async function sshHosts(site: string): Promise<Host[]> {
  const s = await loadSite(site)
  return hostsFor(s, s.hosts)
}

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('osctl lab (real Docker, systemd in containers)', () => {
  let site: string
  let up: LabUpResult
  const opened: Host[] = []
  const open = async () => {
    const hosts = await sshHosts(site)
    opened.push(...hosts)
    return hosts
  }

  beforeAll(async () => {
    // No engine is a failure, not a skip: only OSCTL_SKIP_INTEGRATION=1 skips.
    await docker.ping()
    site = await mkdtemp(join(tmpdir(), 'osctl-lab-site-'))
    up = (await cli(['lab', 'up', '--hosts', '2', '--site', site, '--name', LAB])) as LabUpResult
  })

  afterAll(async () => {
    await closeAll(opened)
    const r = await runCli(['lab', 'down', '--name', LAB, '--json'], {timeoutMs: 300_000})
    if (site) await rm(site, {recursive: true, force: true})
    expect(r.exitCode, r.stderr).toBe(0)
  })

  it('brings up 2 running hosts with static addresses', () => {
    expect(up.lab).toBe(LAB)
    expect(up.network).toBe(`osctl-${LAB}`)
    expect(up.subnet).toMatch(/^10\.213\.\d+\.0\/24$/)
    const base = up.subnet.split('.').slice(0, 3).join('.')
    expect(up.hosts.map((h) => [h.name, h.container, h.address, h.state])).toEqual([
      [`${LAB}-1`, `osctl-${LAB}-1`, `${base}.11`, 'running'],
      [`${LAB}-2`, `osctl-${LAB}-2`, `${base}.12`, 'running'],
    ])
    // A lab host must boot cleanly: nothing failed, not even "degraded".
    for (const h of up.hosts) expect(h.failedUnits, h.name).toEqual([])
  })

  it('writes a complete site dir that loadSite accepts', async () => {
    for (const f of ['osctl.yml', 'inventory.yml', 'passwords.yml', 'known_hosts', 'id_ed25519', 'id_ed25519.pub']) {
      expect((await stat(join(site, f))).isFile(), f).toBe(true)
    }
    expect((await stat(join(site, 'id_ed25519'))).mode & 0o777).toBe(0o600)
    const s = await loadSite(site)
    expect(s.hosts.map((h) => h.address)).toEqual(up.hosts.map((h) => h.address))
    expect(s.groups).toEqual({deploy: [`${LAB}-1`], control: [`${LAB}-1`], compute: [`${LAB}-2`], network: [`${LAB}-1`]})
    expect(s.config.registry).toBe(`${up.hosts[0].address}:4000`)
    const known = await readFile(join(site, 'known_hosts'), 'utf8')
    for (const h of up.hosts) expect(known).toMatch(new RegExp(`^${h.address.replaceAll('.', '\\.')} ssh-ed25519 `, 'm'))
  })

  it('each host answers over SSH with strict host keys', async () => {
    const hosts = await open()
    for (const h of hosts) {
      expect((await h.run(['hostname'])).trim()).toBe(h.name)
      expect((await h.exec(['systemctl', 'is-system-running'])).stdout.trim()).toBe('running')
    }
    // Host keys are made on first boot, so no two hosts share one.
    const keys = await Promise.all(hosts.map((h) => h.run(['cat', '/etc/ssh/ssh_host_ed25519_key.pub'])))
    expect(new Set(keys).size).toBe(2)
  })

  hostContract(
    'SshHost to a lab host',
    async () => {
      const [first] = await sshHosts(site)
      return first
    },
    // The lab host's own sshd, seen from the host.
    async () => ({address: '127.0.0.1', port: 22, greeting: /^SSH-2\.0-OpenSSH/}),
  )

  it('writes a file atomically over SSH and reads it back', async () => {
    const [h] = await open()
    const path = `/etc/osctl-test/${LAB}.conf`
    expect(await h.writeFileAtomic(path, 'answer = 42\n', {mode: 0o640, owner: 'root:root'})).toBe(true)
    expect(await h.writeFileAtomic(path, 'answer = 42\n', {mode: 0o640, owner: 'root:root'})).toBe(false)
    expect((await h.readFile(path)).toString()).toBe('answer = 42\n')
    expect((await h.run(['stat', '-c', '%a %U:%G', path])).trim()).toBe('640 root:root')
    await h.remove('/etc/osctl-test')
  })

  it('lab status --json reports every host', async () => {
    const status = (await cli(['lab', 'status', '--name', LAB])) as {lab: string; hosts: Record<string, string>[]}
    expect(status.lab).toBe(LAB)
    expect(status.hosts).toEqual(
      up.hosts.map((h) => ({host: h.name, ok: true, changed: false, exitCode: 0, name: h.name, container: h.container, id: h.id, address: h.address, state: 'running', systemd: 'running', sshd: 'active'})),
    )
  })

  it('docker restart is a reboot: same address, systemd running, sshd answers again', async () => {
    const [h1] = await open()
    // boot_id is the host kernel's; a new PID 1 (its start time) is what proves the "reboot".
    const pid1Start = () => h1.run(['sh', '-c', "cut -d' ' -f22 /proc/1/stat"])
    const before = await pid1Start()
    await docker.raw.getContainer(up.hosts[0].id).restart()
    const info = await docker.raw.getContainer(up.hosts[0].id).inspect()
    expect(info.NetworkSettings.Networks[up.network].IPAddress).toBe(up.hosts[0].address)
    // The old connection died with the container; the next command reconnects once sshd is back.
    let state = ''
    for (let i = 0; i < 120 && state !== 'running'; i++) {
      state = (await h1.exec(['systemctl', 'is-system-running', '--wait']).catch(() => ({stdout: ''}))).stdout.trim()
      if (state !== 'running') await new Promise((r) => setTimeout(r, 500))
    }
    expect(state).toBe('running')
    expect((await h1.run(['systemctl', 'is-active', 'ssh'])).trim()).toBe('active')
    expect(await pid1Start()).not.toBe(before)
  })

  it('fan-out reports a host stopped mid-way as unreachable and the run as partial (exit 3)', async () => {
    const hosts = await open()
    let stopped!: () => void
    const stop = new Promise<void>((r) => (stopped = r))
    const results = await fanOut(hosts, 2, async (h) => {
      const before = (await h.run(['hostname'])).trim()
      if (h.name === `${LAB}-2`) {
        await docker.raw.getContainer(up.hosts[1].id).stop({t: 5})
        stopped()
      } else await stop
      return `${before} ${(await h.run(['hostname'])).trim()}`
    })
    expect(results[0]).toMatchObject({host: `${LAB}-1`, ok: true, value: `${LAB}-1 ${LAB}-1`})
    expect(results[1]).toMatchObject({host: `${LAB}-2`, ok: false})
    expect(results[1].error?.code).toBe('HOST_UNREACHABLE')
    expect(results[1].error?.message).toContain(`${LAB}-2`)
    expect(summarize(results)).toEqual({ok: [`${LAB}-1`], failed: [`${LAB}-2`], exitCode: 3})
  })

  it('lab up again reuses the hosts (same containers) and starts the stopped one', async () => {
    const again = (await cli(['lab', 'up', '--hosts', '2', '--site', site, '--name', LAB])) as LabUpResult
    expect(again.hosts.map((h) => h.id)).toEqual(up.hosts.map((h) => h.id))
    expect(again.hosts.map((h) => [h.address, h.created, h.state])).toEqual(up.hosts.map((h) => [h.address, false, 'running']))
    expect(again.subnet).toBe(up.subnet)
    expect(again.siteChanged).toEqual([])
  })

  it('refuses to shrink the lab', async () => {
    const r = await runCli(['lab', 'up', '--hosts', '1', '--site', site, '--name', LAB, '--json'])
    expect(r.exitCode).toBe(2)
    expect(JSON.parse(r.stdout).error.hint).toContain('lab down')
  })

  it('lab down removes every container, volume and network of the lab, and is idempotent', async () => {
    const down = (await cli(['lab', 'down', '--name', LAB])) as {containers: string[]; volumes: string[]; networks: string[]}
    expect(down.containers).toEqual([`osctl-${LAB}-1`, `osctl-${LAB}-2`])
    expect(down.volumes).toEqual([`osctl-${LAB}-1-docker`, `osctl-${LAB}-2-docker`])
    expect(down.networks).toEqual([`osctl-${LAB}`])
    const filters = JSON.stringify({label: [`${LABEL_LAB}=${LAB}`]})
    expect(await docker.raw.listContainers({all: true, filters})).toEqual([])
    expect((await docker.raw.listVolumes({filters})).Volumes ?? []).toEqual([])
    expect(await docker.raw.listNetworks({filters})).toEqual([])
    expect(await cli(['lab', 'down', '--name', LAB])).toMatchObject({ok: true, exitCode: 0, lab: LAB, containers: [], volumes: [], networks: []})
  })
})
