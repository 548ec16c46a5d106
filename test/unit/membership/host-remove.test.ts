import {chmod, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {LABELS} from '../../../src/catalog/container-spec.js'
import {EtcdMember, initialCluster, parseMemberList, planJoin, planLeave} from '../../../src/membership/etcd-members.js'
import {RemoveStep, planRemoval, removeHost} from '../../../src/membership/host-remove.js'
import {NEUTRON_AGENT_SCRIPT, NOVA_SERVICE_SCRIPT} from '../../../src/membership/nova-services.js'
import {loadSite} from '../../../src/site/load-site.js'
import type {Site, SiteHost} from '../../../src/site/types.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {FakeHost} from '../../fakes/fake-host.js'

const INVENTORY = `hosts:
  ctl-1: {address: 10.0.0.11}
  ctl-2: {address: 10.0.0.12}
  cmp-1: {address: 10.0.0.21}
  cmp-2: {address: 10.0.0.22}
groups:
  deploy: [ctl-1]
  control: [ctl-1, ctl-2]
  compute: [cmp-1, cmp-2]
`
const MEMBERS = [
  '3a57933972cb5131, started, ctl-1, http://10.0.0.11:2380, http://10.0.0.11:2379, false',
  'f7a0d7e6b1e4c2d9, started, ctl-2, http://10.0.0.12:2380, http://10.0.0.12:2379, false',
].join('\n')

/** Every event on every fake, in the order it happened: the test asserts the cross-host order. */
let timeline: string[]
let dir: string
let site: Site
let hosts: Map<string, FakeHost>
let engines: Map<string, FakeEngine>
/** What a `docker exec` of this argv answers instead of the fake's success (as the real script would). */
let execReply: ((argv: string[]) => {exitCode: number; stdout: string; stderr: string} | undefined) | undefined

class TimedEngine extends FakeEngine {
  constructor(private readonly host: string) {
    super()
  }
  override async exec(container: string, argv: string[], opts: {input?: string} = {}) {
    timeline.push(`${this.host}: docker exec ${container} ${argv[0]} ${argv[3] ?? ''}`.trim())
    const reply = await super.exec(container, argv, opts)
    return execReply?.(argv) ?? reply
  }
  override async stopContainer(name: string) {
    timeline.push(`${this.host}: docker stop ${name}`)
    return super.stopContainer(name)
  }
}

function fakeHost(h: SiteHost): FakeHost {
  const host = new FakeHost(h.name, h.address)
  host.on(/command -v docker/, () => '/usr/bin/docker\n')
  host.on(/^readlink /, () => ({exitCode: 1}))
  host.on(/^(systemctl|runc|umoci|rm) /, (call) => void timeline.push(`${h.name}: ${call.line}`))
  return host
}

async function run(name: string, drain: boolean, steps: RemoveStep[] = []) {
  return removeHost(site, name, {drain, onStep: (s) => steps.push(s)}, {host: (h) => hosts.get(h.name)!, docker: (h) => engines.get(h.name)!})
}

async function service(host: string, svc: string, container = svc) {
  const e = engines.get(host)!
  await e.createContainer({name: container, image: `r/${container}:1`, labels: {[LABELS.managed]: 'true', [LABELS.service]: svc}})
  await e.startContainer(container)
}

beforeEach(async () => {
  timeline = []
  execReply = undefined
  dir = await mkdtemp(join(tmpdir(), 'osctl-remove-'))
  await writeFile(join(dir, 'osctl.yml'), 'registry: 10.0.0.11:4000\n')
  await writeFile(join(dir, 'inventory.yml'), INVENTORY)
  await writeFile(join(dir, 'passwords.yml'), 'keystone_admin_password: admin-pw\n')
  await chmod(join(dir, 'passwords.yml'), 0o600)
  site = await loadSite(dir, {forHosts: true})
  hosts = new Map(site.hosts.map((h) => [h.name, fakeHost(h)]))
  engines = new Map(site.hosts.map((h) => [h.name, new TimedEngine(h.name)]))
  await service('ctl-1', 'nova', 'nova-api')
  await service('ctl-1', 'mariadb')
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

const inventory = () => readFile(join(dir, 'inventory.yml'), 'utf8')

describe('host remove on hosts (fakes)', () => {
  it('a host that runs nothing leaves the inventory at once; nothing is stopped anywhere', async () => {
    const result = await run('cmp-2', false)
    expect(result.steps).toEqual([{kind: 'inventory'}])
    expect(await inventory()).toBe(INVENTORY.replace('  cmp-2: {address: 10.0.0.22}\n', '').replace('[cmp-1, cmp-2]', '[cmp-1]'))
    expect(timeline).toEqual([])
  })

  it('a host that runs services is refused without --drain (exit 2, the services named), and nothing changes', async () => {
    await service('cmp-1', 'nova-compute')
    const err = await run('cmp-1', false).catch((e) => e)
    expect(err).toMatchObject({code: 'USAGE', exitCode: 2, location: '--drain', message: 'cmp-1 runs osctl services: nova-compute'})
    expect(await inventory()).toBe(INVENTORY)
    expect(engines.get('cmp-1')!.containers.get('nova-compute')!.state).toBe('running')
    expect(timeline).toEqual([])
  })

  it('--drain on a compute host with a linuxbridge agent: after nova deletes the host, neutron deletes its agents (asked of a neutron-server)', async () => {
    await service('ctl-1', 'neutron', 'neutron-server')
    await service('cmp-1', 'nova-compute')
    await service('cmp-1', 'neutron-linuxbridge-agent')
    const steps: RemoveStep[] = []
    await run('cmp-1', true, steps)
    expect(steps.map((s) => s.kind)).toEqual(['nova-disable', 'stop-services', 'nova-delete', 'neutron-agents-delete', 'inventory'])
    expect(steps.find((s) => s.kind === 'neutron-agents-delete')).toEqual({kind: 'neutron-agents-delete', via: 'ctl-1'})
    expect(timeline.at(-1)).toBe('ctl-1: docker exec neutron-server python3 http://10.0.0.11:5000/v3')
    const agentExec = engines.get('ctl-1')!.execs.find((e) => e.argv[2] === NEUTRON_AGENT_SCRIPT)!
    // The password on stdin; neutron is asked about this host only.
    expect(agentExec).toMatchObject({input: 'admin-pw', argv: ['python3', '-c', NEUTRON_AGENT_SCRIPT, 'http://10.0.0.11:5000/v3', 'cmp-1']})
    expect(engines.get('cmp-1')!.containers.size).toBe(0)
  })

  it('--drain of a compute host that still hosts servers is refused (exit 2, the servers named) before anything stops', async () => {
    await service('cmp-1', 'nova-compute')
    // NOVA_SERVICE_SCRIPT's disable lists the host's servers first and exits 3 with their names.
    execReply = (argv) => (argv[3] === 'disable' ? {exitCode: 3, stdout: '{"servers": ["vm-a", "vm-b"]}\n', stderr: ''} : undefined)
    const err = await run('cmp-1', true).catch((e) => e)
    expect(err).toMatchObject({code: 'USAGE', exitCode: 2, location: '--drain', message: 'cmp-1 still hosts 2 server(s): vm-a, vm-b'})
    expect(timeline).toEqual(['ctl-1: docker exec nova-api python3 disable'])
    expect(engines.get('cmp-1')!.containers.get('nova-compute')!.state).toBe('running')
    expect(await inventory()).toBe(INVENTORY)
  })

  it('a nova or neutron API error names the call, the status and the API\'s own message', async () => {
    await service('cmp-1', 'nova-compute')
    execReply = (argv) => (argv[3] === 'delete' ? {exitCode: 1, stdout: '', stderr: 'DELETE /os-services/abc: HTTP 409: Unable to delete compute service that has in-progress migrations.\n'} : undefined)
    const err = await run('cmp-1', true).catch((e) => e)
    expect(err).toMatchObject({code: 'COMMAND_FAILED', message: 'ctl-1: cannot delete the nova-compute service of cmp-1: DELETE /os-services/abc: HTTP 409: Unable to delete compute service that has in-progress migrations.'})
    expect(await inventory()).toBe(INVENTORY)
  })

  it('--drain of a host with neutron agents and no neutron-server elsewhere is refused before anything stops', async () => {
    await service('cmp-1', 'neutron-linuxbridge-agent')
    const err = await run('cmp-1', true).catch((e) => e)
    expect(err).toMatchObject({code: 'COMMAND_FAILED', message: expect.stringMatching(/no other control host runs neutron-server/)})
    expect(engines.get('cmp-1')!.containers.get('neutron-linuxbridge-agent')!.state).toBe('running')
    expect(await inventory()).toBe(INVENTORY)
  })

  it('--drain on a compute host: nova disables it, its containers go, nova deletes it, then the inventory changes', async () => {
    await service('cmp-1', 'nova-compute')
    const steps: RemoveStep[] = []
    const result = await run('cmp-1', true, steps)
    expect(steps.map((s) => s.kind)).toEqual(['nova-disable', 'stop-services', 'nova-delete', 'inventory'])
    expect(timeline).toEqual([
      'ctl-1: docker exec nova-api python3 disable',
      "cmp-1: systemctl disable --now osctl-svc-nova-compute.service",
      'cmp-1: docker stop nova-compute',
      'cmp-1: systemctl daemon-reload',
      'ctl-1: docker exec nova-api python3 delete',
    ])
    const execs = engines.get('ctl-1')!.execs
    // The admin password goes on stdin, never in argv; nova is asked about this host only.
    expect(execs.map((e) => e.input)).toEqual(['admin-pw', 'admin-pw'])
    expect(execs[0].argv).toEqual(['python3', '-c', NOVA_SERVICE_SCRIPT, 'disable', 'http://10.0.0.11:5000/v3', 'cmp-1'])
    expect(engines.get('cmp-1')!.containers.size).toBe(0)
    expect(hosts.get('cmp-1')!.ops).toEqual(expect.arrayContaining(['remove /etc/systemd/system/osctl-svc-nova-compute.service', 'remove /etc/osctl/nova-compute', 'remove /var/lib/osctl/services/nova-compute']))
    expect(result.runs.containers).toEqual([{service: 'nova-compute', container: 'nova-compute'}])
    expect(await inventory()).not.toContain('cmp-1: {')
  })

  it('--drain on a control host: it leaves the etcd cluster (asked of another member) before its etcd stops, and its etcd data goes', async () => {
    const ctl2 = hosts.get('ctl-2')!
    ctl2.on(/^readlink \/var\/lib\/osctl\/system\/etcd\/current/, () => 'slot-0\n')
    ctl2.setFile('/var/lib/osctl/system/etcd/slot-0/info.json', JSON.stringify({name: 'etcd', revision: 1, slot: 0, image: 'r/etcd:1'}))
    ctl2.setFile('/var/lib/osctl/data/etcd/member/wal', 'x')
    hosts.get('ctl-1')!.on(/etcdctl .* member list/, () => MEMBERS)
    hosts.get('ctl-1')!.on(/etcdctl .* member remove/, (c) => void timeline.push(`ctl-1: ${c.argv!.slice(-3).join(' ')}`))
    await service('ctl-2', 'keystone')
    const steps: RemoveStep[] = []
    await run('ctl-2', true, steps)
    expect(steps).toEqual([
      {kind: 'stop-services', containers: ['keystone']},
      {kind: 'etcd-member-remove', via: 'ctl-1', id: 'f7a0d7e6b1e4c2d9'},
      {kind: 'system-remove', name: 'etcd'},
      {kind: 'inventory'},
    ])
    const removeAt = timeline.indexOf('ctl-1: member remove f7a0d7e6b1e4c2d9')
    const stopAt = timeline.indexOf('ctl-2: systemctl disable --now osctl-etcd.service')
    expect(removeAt).toBeGreaterThan(-1)
    expect(stopAt).toBeGreaterThan(removeAt)
    expect(ctl2.files.has('/var/lib/osctl/data/etcd/member/wal')).toBe(false)
    expect(await inventory()).toContain('control: [ctl-1]\n')
  })

  it('a drain that would need a missing password is refused before anything stops', async () => {
    await service('cmp-1', 'nova-compute')
    site = {...site, passwords: {}}
    expect(await run('cmp-1', true).catch((e) => e)).toMatchObject({exitCode: 2, message: expect.stringMatching(/^password keystone_admin_password is missing/)})
    expect(timeline).toEqual([])
    expect(await inventory()).toBe(INVENTORY)
  })

  it('an unreachable host is an error (exit 5) and the inventory is kept', async () => {
    hosts.get('cmp-2')!.down = true
    expect(await run('cmp-2', false).catch((e) => e)).toMatchObject({code: 'HOST_UNREACHABLE', exitCode: 5})
    expect(await inventory()).toBe(INVENTORY)
  })
})

describe('the order and the refusals (decisions only)', () => {
  const runs = (services: string[], system: string[] = []) => ({containers: services.map((s) => ({service: s, container: s})), system})

  it('refuses draining the host that runs the only mariadb, or the registry; a Galera node with peers in a primary component may leave', () => {
    expect(() => planRemoval({runs: runs(['mariadb', 'keystone']), drain: true, name: 'ctl-1'})).toThrow(/only database server/)
    expect(() => planRemoval({runs: runs(['mariadb', 'keystone']), drain: true, name: 'ctl-1', galeraPeers: 0})).toThrow(/only database server/)
    expect(planRemoval({runs: runs(['mariadb', 'keystone']), drain: true, name: 'ctl-2', galeraPeers: 2})).toEqual([{kind: 'stop-services', containers: ['mariadb', 'keystone']}, {kind: 'inventory'}])
    expect(() => planRemoval({runs: runs([], ['registry']), drain: true, name: 'ctl-1'})).toThrow(/site registry/)
  })

  it('a compute host with no nova-api elsewhere is refused before anything stops', () => {
    expect(() => planRemoval({runs: runs(['nova-compute']), drain: true, name: 'cmp-1'})).toThrow(/no other control host runs nova-api/)
  })

  it('etcd leaves before it stops, after the services', () => {
    expect(planRemoval({runs: runs(['memcached'], ['etcd']), drain: true, name: 'c', etcd: {via: 'a', id: '1'}}).map((s) => s.kind)).toEqual(['stop-services', 'etcd-member-remove', 'system-remove', 'inventory'])
  })
})

describe('etcd membership', () => {
  const m = (id: string, name: string, address: string, started = true): EtcdMember => ({id, name, started, peerUrls: [`http://${address}:2380`]})
  const three = [m('a1', 'ctl-1', '10.0.0.11'), m('b2', 'ctl-2', '10.0.0.12'), m('c3', 'ctl-3', '10.0.0.13')]

  it('parses etcdctl member list -w simple, unstarted members included, ids kept as hex strings', () => {
    expect(parseMemberList(`${MEMBERS}\nffffffffffffffff, unstarted, , http://10.0.0.13:2380, , false\n`)).toEqual([
      {id: '3a57933972cb5131', name: 'ctl-1', started: true, peerUrls: ['http://10.0.0.11:2380']},
      {id: 'f7a0d7e6b1e4c2d9', name: 'ctl-2', started: true, peerUrls: ['http://10.0.0.12:2380']},
      {id: 'ffffffffffffffff', name: '', started: false, peerUrls: ['http://10.0.0.13:2380']},
    ])
  })

  it('leave: removes the member by id; refuses the last member and a removal that leaves no quorum', () => {
    expect(planLeave(three, {name: 'ctl-3', address: '10.0.0.13'}, 'ctl-1')).toEqual({kind: 'member-remove', via: 'ctl-1', id: 'c3'})
    expect(planLeave(three, {name: 'ctl-9', address: '10.0.0.19'}, 'ctl-1').kind).toBe('none')
    expect(() => planLeave([three[0]], {name: 'ctl-1', address: '10.0.0.11'}, 'ctl-2')).toThrow(/last etcd member/)
    expect(() => planLeave([three[0], {...three[1], started: false}, three[2]], {name: 'ctl-3', address: '10.0.0.13'}, 'ctl-1')).toThrow(/without a quorum: 1 of 2/)
  })

  it('join: added before it starts, once; refused while another added member never started', () => {
    expect(planJoin(three, {name: 'ctl-4', address: '10.0.0.14'}, 'ctl-1')).toEqual({kind: 'member-add', via: 'ctl-1'})
    expect(planJoin(three, {name: 'ctl-3', address: '10.0.0.13'}, 'ctl-1')).toMatchObject({kind: 'none'})
    expect(() => planJoin([...three, {id: 'd4', name: '', started: false, peerUrls: ['http://10.0.0.14:2380']}], {name: 'ctl-5', address: '10.0.0.15'}, 'ctl-1')).toThrow(/added but never started/)
    expect(initialCluster(three, {name: 'ctl-4', address: '10.0.0.14'})).toBe('ctl-1=http://10.0.0.11:2380,ctl-2=http://10.0.0.12:2380,ctl-3=http://10.0.0.13:2380,ctl-4=http://10.0.0.14:2380')
  })
})
