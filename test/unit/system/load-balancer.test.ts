import {describe, expect, it} from 'vitest'

import {contextFor, siteSystemContainers, systemContainersFor} from '../../../src/bootstrap/system-context.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {templateVars} from '../../../src/catalog/render.js'
import {clientConfig} from '../../../src/ops/client-config.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {SystemManager} from '../../../src/system/manager.js'
import {API_FRONTENDS, VIP_HANDOVER_UNIT, haproxy, haproxyConfig, haproxyServers, keepalived, keepalivedConfig} from '../../../src/system/load-balancer.js'
import {renderSpec} from '../../../src/system/oci-spec.js'
import {testSite} from '../../fakes/site.js'
import {demoHost} from './demo.js'

const VIP = '10.0.0.250'
const ha = () => {
  const site = testSite({internalVip: VIP, keepalivedVirtualRouterId: 77}, undefined, 2)
  site.hosts.push({name: 'lab-3', address: '10.0.0.13', ssh: {user: 'root', port: 22}, groups: ['control']})
  site.groups.control.push('lab-3')
  return site
}

describe('load balancer (internal_vip)', () => {
  it('runs haproxy and keepalived on control hosts only when internal_vip is set', () => {
    const plain = testSite()
    expect(siteSystemContainers(plain).map((d) => d.name)).toEqual(['registry', 'etcd'])
    const site = ha()
    expect(systemContainersFor(site, site.hosts[2]).map((d) => d.name)).toEqual(['etcd', 'haproxy', 'keepalived'])
    expect(contextFor(plain, plain.hosts[0], haproxy).lb).toBeUndefined()
  })

  it('points every internal endpoint, the database, clouds.yaml and admin-openrc at the VIP', () => {
    const site = ha()
    const vars = templateVars(site, site.hosts[1])
    expect(vars.internal_address).toBe(VIP)
    // SQL: through the host's own haproxy on the loopback (a moving VIP never strands it).
    expect(vars.database_address).toBe('127.0.0.1')
    expect(templateVars(testSite(), testSite().hosts[1]).database_address).toBe('10.0.0.11')
    expect(vars.api_address).toBe('10.0.0.12')
    const client = clientConfig(site)
    expect(client.authUrl).toBe(`http://${VIP}:5000/v3`)
    expect(client.openrc).toContain(`OS_AUTH_URL='http://${VIP}:5000/v3'`)
    expect(clientConfig(testSite()).authUrl).toBe('http://10.0.0.11:5000/v3')
  })

  it('haproxy: one listener per enabled API on the VIP (transparent bind), every control host a checked backend, glance active/backup', () => {
    const site = ha()
    const cfg = haproxyConfig(contextFor(site, site.hosts[1], haproxy))
    // testSite enables no neutron: no neutron_server listener.
    expect([...cfg.matchAll(/^listen (\S+)$/gm)].map((m) => m[1])).toEqual(['mariadb', 'keystone', 'glance_api', 'placement_api', 'nova_api', 'nova_metadata'])
    expect(cfg).toContain(`    bind ${VIP}:5000 transparent\n`)
    expect(cfg).toContain('    server lab-1 10.0.0.11:5000 check\n    server lab-2 10.0.0.12:5000 check\n    server lab-3 10.0.0.13:5000 check\n')
    expect(cfg).toContain('    server lab-1 10.0.0.11:9292 check\n    server lab-2 10.0.0.12:9292 check backup\n')
    // A check connects within 300 ms (a gone host is out at once) and may wait 3 s for a busy API's answer.
    expect(cfg).toMatch(/timeout connect 300ms\n[\s\S]*timeout check 3s\n[\s\S]*inter 2s fastinter 500ms downinter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down\n/)
    expect(cfg).toContain('    bind 127.0.0.1:8404\n    option dontlognull\n    monitor-uri /healthz\n    stats enable\n    stats uri /stats\n')
    expect(cfg).toContain('stats socket /run/haproxy/admin.sock')
    // SQL: TCP, one Galera node at a time (the others are backups), long-lived connections.
    expect(cfg).toContain(`listen mariadb\n    bind ${VIP}:3306 transparent\n    bind 127.0.0.1:3306\n    mode tcp\n    option tcplog\n    option tcpka\n    timeout client 1h\n    timeout server 1h\n    server lab-1 10.0.0.11:3306 check agent-check agent-port 4569 agent-inter 1s\n    server lab-2 10.0.0.12:3306 check agent-check agent-port 4569 agent-inter 1s backup\n`)
    expect(cfg.split('listen mariadb')[1].split('listen keystone')[0]).not.toContain('http')
    // One control host: one server, not a cluster, no agent (its layer-4 check alone).
    const one = testSite({internalVip: VIP}, undefined, 1)
    expect(haproxyConfig(contextFor(one, one.hosts[0], haproxy))).toContain('    server lab-1 10.0.0.11:3306 check\n')
    // Failed, retried and redispatched requests (and backends going down) reach the unit's journal; normal ones do not.
    expect(cfg).toMatch(/^global\n(    .*\n)*    log stdout format raw local0 info\n/m)
    expect(cfg).toMatch(/^defaults\n(    .*\n)*    log global\n    option httplog\n    option dontlog-normal\n/m)
  })

  it('every API port in the catalog on the control hosts has a listener (and no listener names a port nothing serves)', async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const served = catalog.services
      .filter((s) => s.group.includes('control'))
      .flatMap((s) => s.containers.filter((c) => c.health && ('http' in c.health || s.cluster === 'galera')).map((c) => ({service: s.name, port: c.ports[0]})))
    expect(served.map((s) => `${s.service}:${s.port}`).sort()).toEqual(API_FRONTENDS.map((f) => `${f.service}:${f.port}`).sort())
  })

  it('keepalived: VRRPv3 over unicast to the other control hosts, priority by inventory order, VIP /32 on api_interface', () => {
    const site = ha()
    const cfg = keepalivedConfig(contextFor(site, site.hosts[1], keepalived))
    expect(cfg).toContain('    vrrp_version 3\n')
    expect(cfg).toContain('    virtual_router_id 77\n    priority 99\n    advert_int 0.5\n    check_unicast_src\n    unicast_src_ip 10.0.0.12\n    unicast_peer {\n        10.0.0.11\n        10.0.0.13\n    }')
    expect(cfg).toContain(`        ${VIP}/32 dev eth0\n`)
    expect(cfg).toMatch(/state BACKUP\n\s+nopreempt/)
    expect(keepalivedConfig(contextFor(ha(), ha().hosts[0], keepalived))).toContain('priority 100')
    // Alone: no unicast block (nothing to talk to).
    const one = testSite({internalVip: VIP}, undefined, 1)
    expect(keepalivedConfig(contextFor(one, one.hosts[0], keepalived))).not.toContain('unicast')
  })

  it('keepalived gets CAP_NET_ADMIN and CAP_NET_RAW, haproxy CAP_NET_RAW and a raised RLIMIT_NOFILE; others keep the default set', () => {
    const base = {ociVersion: '1', process: {args: [], rlimits: [{type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024}]}, root: {path: 'rootfs'}}
    const ka = renderSpec(base, {name: 'keepalived', revision: 1, args: [], env: [], mounts: [], capabilities: keepalived.capabilities})
    expect(ka.process.capabilities!.effective).toEqual(expect.arrayContaining(['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_NET_BIND_SERVICE']))
    const hp = renderSpec(base, {name: 'haproxy', revision: 1, args: [], env: [], mounts: [], nofile: haproxy.nofile})
    expect(hp.process.rlimits).toEqual([{type: 'RLIMIT_NOFILE', hard: 16384, soft: 16384}])
    expect(hp.process.capabilities!.effective).not.toContain('CAP_NET_ADMIN')
    // IP_TRANSPARENT for its VIP binds: answers in flight still leave a host that just gave up the VIP.
    const hpCaps = renderSpec(base, {name: 'haproxy', revision: 1, args: [], env: [], mounts: [], capabilities: haproxy.capabilities})
    expect(hpCaps.process.capabilities!.effective).toContain('CAP_NET_RAW')
    expect(hpCaps.process.capabilities!.effective).not.toContain('CAP_NET_ADMIN')
  })

  it('config files belong to the revision: a change is a new revision mounting its own copy; rollback returns to the old files', async () => {
    const site = ha()
    const h = demoHost()
    h.registry.set(`${site.config.registry}/osctl/haproxy:zed`, 'sha256:one')
    const src = {kind: 'registry' as const, ref: `${site.config.registry}/osctl/haproxy:zed`}
    const m = new SystemManager(h)
    const ctx = contextFor(site, site.hosts[0], haproxy)
    expect(await m.apply(haproxy, ctx, src)).toMatchObject({status: 'installed', revision: 1})
    expect(h.text('/var/lib/osctl/system/haproxy/revisions/1/files/haproxy.cfg')).toBe(haproxyConfig(ctx))
    const mount1 = JSON.parse(h.text('/var/lib/osctl/system/haproxy/slot-0/bundle/config.json')!).mounts.find((x: {destination: string}) => x.destination === '/etc/haproxy')
    expect(mount1).toMatchObject({source: '/var/lib/osctl/system/haproxy/revisions/1/files', options: ['rbind', 'ro']})
    expect(await m.apply(haproxy, ctx, src)).toMatchObject({status: 'unchanged', revision: 1})
    // A fourth control host changes every haproxy.cfg: a new revision.
    const grown = ha()
    grown.hosts.push({name: 'lab-4', address: '10.0.0.14', ssh: {user: 'root', port: 22}, groups: ['control']})
    const ctx2 = contextFor(grown, grown.hosts[0], haproxy)
    expect(await m.apply(haproxy, ctx2, src, 'upgrade')).toMatchObject({status: 'upgraded', revision: 2, slot: 1})
    expect(h.text('/var/lib/osctl/system/haproxy/revisions/2/files/haproxy.cfg')).toContain('server lab-4 10.0.0.14:5000 check')
    expect(h.text('/var/lib/osctl/system/haproxy/revisions/1/files/haproxy.cfg')).not.toContain('lab-4')
    expect(await m.rollback(haproxy, ctx)).toMatchObject({revision: 1, slot: 0})
    expect(h.links.get('/var/lib/osctl/system/haproxy/current')).toBe('slot-0')
  })

  it('keepalived is healthy on a VRRP state (a host script), not an HTTP answer', () => {
    const check = keepalived.health(contextFor(ha(), ha().hosts[0], keepalived))
    expect(check).toMatchObject({what: 'VRRP state of osctl_internal'})
    expect('script' in check && check.script).toContain('/var/lib/osctl/data/keepalived/osctl_internal')
  })

  it('keepalived is not ordered before Docker (a host shutting down hands the VIP over first); haproxy is', async () => {
    const site = ha()
    const h = demoHost()
    for (const name of ['haproxy', 'keepalived']) h.registry.set(`${site.config.registry}/osctl/${name}:zed`, 'sha256:one')
    const m = new SystemManager(h)
    for (const d of [haproxy, keepalived]) await m.apply(d, contextFor(site, site.hosts[0], d), {kind: 'registry', ref: `${site.config.registry}/osctl/${d.name}:zed`})
    expect(h.text('/etc/systemd/system/osctl-haproxy.service')).toMatch(/^Before=docker\.service$/m)
    expect(h.text('/etc/systemd/system/osctl-keepalived.service')).not.toMatch(/^Before=docker/m)
  })

  it('installs the VIP handover with keepalived: stopped first at shutdown, stopping keepalived, removed with it', async () => {
    const site = ha()
    const h = demoHost()
    h.registry.set(`${site.config.registry}/osctl/keepalived:zed`, 'sha256:one')
    const m = new SystemManager(h)
    const apply = () => m.apply(keepalived, contextFor(site, site.hosts[0], keepalived), {kind: 'registry', ref: `${site.config.registry}/osctl/keepalived:zed`})
    expect(keepalived.companionUnits).toEqual([VIP_HANDOVER_UNIT])
    await apply()
    const path = `/etc/systemd/system/${VIP_HANDOVER_UNIT}`
    const text = h.text(path)!
    expect(text).toMatch(/^ExecStop=-\/bin\/systemctl stop osctl-keepalived\.service$/m)
    expect(text).toMatch(/^ExecStart=-\/bin\/systemctl start --no-block osctl-keepalived\.service$/m)
    expect(text).toMatch(/^Type=oneshot$/m)
    expect(text).toMatch(/^RemainAfterExit=yes$/m)
    // Ordered against nothing itself: the service units order themselves before it.
    expect(text).not.toMatch(/^(Before|After|Requires|Wants|BindsTo)=/m)
    expect(h.ran(`systemctl enable --now --no-block ${VIP_HANDOVER_UNIT}`)).toBe(true)
    expect(h.unitActive.get(VIP_HANDOVER_UNIT)).toBe('active')
    // A second apply with the same copy writes nothing, and puts back a handover stopped since
    // (inactive at shutdown, it would not hand the VIP over first).
    h.unitActive.delete(VIP_HANDOVER_UNIT)
    expect((await apply()).status).toBe('unchanged')
    expect(h.unitActive.get(VIP_HANDOVER_UNIT)).toBe('active')
    // A host whose copy differs (an older osctl's) gets this one.
    h.setFile(path, 'old')
    await apply()
    expect(h.text(path)).toBe(text)
    expect(h.unitActive.get(VIP_HANDOVER_UNIT)).toBe('active')
    h.on(/^systemctl (disable|enable) --now /, () => '').on(/^runc delete /, () => '').on(/^rm -rf /, () => '')
    await m.remove('keepalived')
    expect(h.ran(`systemctl disable --now ${VIP_HANDOVER_UNIT}`)).toBe(true)
    expect(h.text(path)).toBeUndefined()
  })

  it('a first keepalived install that never becomes healthy leaves no handover behind (destroy would not find it)', async () => {
    const site = ha()
    const h = demoHost()
    h.registry.set(`${site.config.registry}/osctl/keepalived:bad`, 'sha256:bad')
    const m = new SystemManager(h)
    const impatient = {...keepalived, healthTimeoutSeconds: 0.3}
    await expect(m.apply(impatient, contextFor(site, site.hosts[0], impatient), {kind: 'registry', ref: `${site.config.registry}/osctl/keepalived:bad`})).rejects.toThrow(/did not become healthy/)
    expect(h.text(`/etc/systemd/system/${VIP_HANDOVER_UNIT}`)).toBeUndefined()
  })

  it("haproxyServers: the server rows of haproxy's statistics CSV, without its header, FRONTEND and BACKEND rows", () => {
    const cols = (pxname: string, svname: string, qcur: string, scur: string, status: string) => [pxname, svname, qcur, '0', scur, ...Array(12).fill(''), status, '1'].join(',')
    const csv = ['# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight', cols('keystone', 'FRONTEND', '', '3', 'OPEN'), cols('keystone', 'lab-1', '1', '2', 'UP'), cols('keystone', 'lab-2', '', '0', 'DOWN'), cols('keystone', 'BACKEND', '0', '2', 'UP'), cols('mariadb', 'lab-2', '0', '5', 'UP 1/2'), ''].join('\n')
    expect(haproxyServers(csv)).toEqual([
      {proxy: 'keystone', server: 'lab-1', status: 'UP', queued: 1, sessions: 2},
      {proxy: 'keystone', server: 'lab-2', status: 'DOWN', queued: 0, sessions: 0},
      {proxy: 'mariadb', server: 'lab-2', status: 'UP 1/2', queued: 0, sessions: 5},
    ])
    expect(haproxyServers('')).toEqual([])
  })
})
