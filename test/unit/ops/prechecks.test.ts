import {describe, expect, it} from 'vitest'

import {addressCheck, clockCheck, runSiteChecks} from '../../../src/bootstrap/prechecks.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {failedChecks, portsFor, prechecks} from '../../../src/ops/prechecks.js'
import {HostSession} from '../../../src/session/host-session.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {testSite} from '../../fakes/site.js'

const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0')
const procNetTcp = (ports: number[]) =>
  ['  sl  local_address rem_address   st', ...ports.map((p, i) => `   ${i}: 0B00000A:${hex(p)} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${i} 1`)].join('\n')

interface Box {
  listening?: number[]
  running?: string[]
  active?: string[]
  clockOffsetMs?: number
  modules?: Record<string, boolean>
  resolves?: boolean
  addresses?: string
  docker?: boolean
}

/** A host answering every probe prechecks runs, from a few facts. */
function box(name: string, address: string, f: Box = {}): FakeHost {
  const h = new FakeHost(name, address)
  h.on(/^sh -c 'cat \/proc\/1\/comm/, () => `systemd\n---\n6.1.0-18-amd64\n---\ncgroup2fs\n12\n---\n/dev/vda 100000000 1000 90000000 1% /\n---\n${procNetTcp(f.listening ?? [])}\n`)
  h.on(/^readlink /, () => ({exitCode: 1}))
  h.on(/^systemctl show /, (c) => `ActiveState=${(f.active ?? []).some((n) => c.line.includes(`osctl-${n}.service`)) ? 'active' : 'inactive'}\n`)
  h.on(/^docker ps /, () => (f.docker === false ? {exitCode: 127, stderr: 'docker: not found'} : (f.running ?? []).join('\n')))
  h.on(/^sh -c 'date \+%s%3N/, () => {
    const mods = {overlay: true, bridge: true, vxlan: true, ...f.modules}
    return [
      `${Date.now() + (f.clockOffsetMs ?? 0)}`, '---', 'no', '---', ...Object.entries(mods).map(([m, y]) => `${m} ${y ? 'yes' : 'no'}`), '---',
      `${name} ${f.resolves === false ? 'no' : 'yes'}`, '---', f.addresses ?? `1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet ${address}/24 brd 10.0.0.255 scope global eth0`, '',
    ].join('\n')
  })
  return h
}

const session = (hosts: FakeHost[]) => new HostSession({host: (h) => hosts.find((x) => x.name === h.name)!, docker: () => new FakeEngine()})

describe('osctl prechecks', () => {
  it('the ports a host needs: its system containers and the enabled services its groups run', async () => {
    const site = testSite()
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const lab1 = portsFor(site, catalog, site.hosts[0])
    expect(lab1.system).toEqual([4000, 2379, 2380])
    expect(Object.fromEntries(lab1.services)).toEqual({mariadb: [3306, 4444, 4567, 4568, 4569], memcached: [11211], rabbitmq: [5672, 25672, 4369], keystone: [5000], 'glance-api': [9292], 'placement-api': [8778], 'nova-api': [8774], 'nova-metadata': [8775]})
    // lab-2 is a second control host: services on the first host only (mariadb, rabbitmq) are not its business.
    expect([...portsFor(site, catalog, site.hosts[1]).services.keys()]).toEqual(['memcached', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-metadata'])
    expect([...portsFor(testSite({enabledServices: ['mariadb']}), catalog, site.hosts[0]).services.keys()]).toEqual(['mariadb'])
  })

  it("a deployed host passes: its ports are held by osctl's own running containers; a fresh host passes with them free", async () => {
    const site = testSite()
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const deployed = box('lab-1', '10.0.0.11', {listening: [22, 2379, 2380, 4000, 3306, 5000, 5672, 11211], running: ['mariadb', 'keystone', 'rabbitmq', 'memcached'], active: ['etcd', 'registry']})
    const fresh = box('lab-2', '10.0.0.12', {listening: [22], docker: false})
    const [a, b] = await prechecks(site, catalog, site.hosts, session([deployed, fresh]))
    expect(a.value!.checks.filter((c) => !c.ok)).toEqual([])
    expect(a.value!.checks.map((c) => c.check)).toEqual(['systemd is PID 1', 'kernel version', 'cgroups usable', 'disk space', 'ports free', 'time sync', 'kernel features', 'name resolution', 'inventory address'])
    expect(a.value!.ports).toEqual([2379, 2380, 3306, 4000, 4369, 4444, 4567, 4568, 4569, 5000, 5672, 8774, 8775, 8778, 9292, 11211, 25672])
    expect(b.value!.checks.filter((c) => !c.ok)).toEqual([])
    expect(failedChecks('lab-1', a.value!.checks)).toBeUndefined()
    // Read-only: nothing written on either host.
    expect([...deployed.ops, ...fresh.ops]).toEqual([])
  })

  it('each failing check is named with what is wrong, and makes the host fail with exit 3', async () => {
    const site = testSite()
    const catalog = await loadCatalog(TEMPLATES_DIR)
    // keystone's container is not running but something holds 5000; etcd is down but 2379 is taken.
    const bad = box('lab-1', '10.0.0.11', {listening: [2379, 5000, 9292], running: ['mariadb'], clockOffsetMs: -90_000, modules: {vxlan: false}, resolves: false, addresses: '2: eth0    inet 10.9.9.9/24 scope global eth0'})
    const [r] = await prechecks(site, catalog, [site.hosts[0]], session([bad]))
    const failed = Object.fromEntries(r.value!.checks.filter((c) => !c.ok).map((c) => [c.check, c.detail]))
    expect(failed).toEqual({
      'ports free': 'in use: 2379, 5000, 9292',
      'time sync': expect.stringMatching(/^clock -(89|90)\.\d s off this machine \(max 2 s\); NTP not synchronized$/),
      'kernel features': 'missing: vxlan',
      'name resolution': 'cannot resolve: lab-1',
      'inventory address': '10.0.0.11 (inventory.yml) is not an address of this host',
    })
    const err = failedChecks('lab-1', r.value!.checks)!
    expect(err.exitCode).toBe(3)
    expect(err.message).toMatch(/^lab-1: prechecks failed: ports free \(in use: 2379, 5000, 9292\); time sync/)
  })

  it('an unreachable host is a per-host error, the others are still checked', async () => {
    const site = testSite()
    const down = box('lab-1', '10.0.0.11')
    down.down = true
    const [a, b] = await prechecks(site, await loadCatalog(TEMPLATES_DIR), site.hosts, session([down, box('lab-2', '10.0.0.12')]))
    expect([a.ok, a.error?.code, b.ok]).toEqual([false, 'HOST_UNREACHABLE', true])
  })

  it('the clock is judged against the window the probe ran in; addresses match whole', async () => {
    expect(clockCheck(1500, 1000, 2000, 'yes')).toMatchObject({ok: true, detail: 'clock agrees with this machine (max 2 s); NTP synchronized'})
    expect(clockCheck(4000, 1000, 2000, 'no').ok).toBe(true)
    expect(clockCheck(4001, 1000, 2000, 'no')).toMatchObject({ok: false, detail: 'clock 2.0 s off this machine (max 2 s); NTP not synchronized'})
    expect(clockCheck(Number.NaN, 1000, 2000, 'unknown')).toMatchObject({ok: false, detail: 'cannot read the clock'})
    expect(addressCheck('inet 10.0.0.110/24', '10.0.0.11').ok).toBe(false)
    expect(addressCheck('10.0.0.12 10.0.0.11 ', '10.0.0.11').ok).toBe(true)
    expect(addressCheck('inet6 fd00::5/64 scope global', 'fd00::5').ok).toBe(true)
    const h = box('x', '10.0.0.11')
    expect((await runSiteChecks(h, {address: '10.0.0.11', names: ['registry.example']})).every((c) => c.ok)).toBe(true)
    expect(h.calls.at(-1)!.argv!.at(-1)).toContain("getent hosts registry.example >/dev/null")
  })
})
