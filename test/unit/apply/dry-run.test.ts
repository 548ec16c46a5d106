import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {dryRun, dryRunLines, redactor} from '../../../src/apply/dry-run.js'
import {unifiedDiff} from '../../../src/apply/unified-diff.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import type {Site} from '../../../src/site/types.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
const dirs: string[] = []
afterAll(async () => Promise.all(dirs.map((d) => rm(d, {recursive: true, force: true}))))

async function overrides(files: Record<string, string>): Promise<Overrides> {
  const dir = await mkdtemp(join(tmpdir(), 'osctl-dry-'))
  dirs.push(dir)
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text)
  return Overrides.load(dir)
}

async function lab(site: Site = testSite()) {
  const l = fakeLab(site, registryRefs(SERVICES, ['zed']))
  const plan = async (o: Overrides = Overrides.empty(), s: Site = site) => planDeploy(s, await loadCatalog(TEMPLATES_DIR), o, {services: SERVICES, targets: s.hosts})
  /** Everything a host and its engine were asked to change since `mark()`: must stay empty in a dry run. */
  const mark = () => {
    const n = new Map([...l.hosts].map(([h, x]) => [h, {ops: x.ops.length, calls: l.engines.get(h)!.calls.length}]))
    return () => [...l.hosts].flatMap(([h, x]) => [...x.ops.slice(n.get(h)!.ops), ...l.engines.get(h)!.calls.slice(n.get(h)!.calls).filter((c) => !c.startsWith('inspect '))])
  }
  return {...l, plan, mark}
}

describe('deploy --dry-run (observe + decide over FakeHost + FakeEngine)', () => {
  it('a fresh cloud: every container to create, new configs shown from /dev/null, key files never shown, once-steps on the first host', async () => {
    const l = await lab()
    const changed = l.mark()
    const r = await dryRun(testSite(), await l.plan(), testSite().hosts, l.session)
    expect(changed()).toEqual([])
    expect(r.changes).toBe(true)
    expect(r.hosts.map((h) => [h.host, h.ok, h.wouldChange])).toEqual([['lab-1', true, true], ['lab-2', true, true]])
    const ks1 = r.actions.find((a) => a.host === 'lab-1' && a.service === 'keystone')!
    expect(ks1).toMatchObject({nextRevision: 1, newRevision: true, steps: ['bootstrap']})
    expect(ks1.revision).toBeUndefined()
    expect(r.actions.find((a) => a.host === 'lab-2' && a.service === 'keystone')!.steps).toEqual([])
    const c = ks1.containers[0]
    expect(c).toMatchObject({container: 'keystone', action: 'create', reasons: ['new'], fields: [], unitChanged: true})
    expect(c.image).toBe('10.0.0.11:4000/osctl/keystone:zed')
    const conf = c.configs.find((f) => f.file === 'keystone.conf')!
    expect(conf.state).toBe('added')
    expect(conf.diff).toMatch(/^--- \/dev\/null\n\+\+\+ \/etc\/osctl\/keystone\/keystone.conf \(rendered\)\n@@ -0,0 \+1,\d+ @@\n/)
    expect(conf.diff).toContain('+connection = mysql+pymysql://keystone:<password:keystone_database_password>@10.0.0.11:3306/keystone\n')
    // fernet/credential keys (0600 in the container) and the erlang cookie (0400): never printed, not even as a diff.
    expect(c.configs.find((f) => f.file === 'fernet-0')).toEqual({file: 'fernet-0', secret: true, state: 'added'})
    const rabbit = r.actions.find((a) => a.service === 'rabbitmq')!.containers[0]
    expect(rabbit.configs.find((f) => f.file === 'erlang.cookie')).toEqual({file: 'erlang.cookie', secret: true, state: 'added'})
    expect(rabbit.configs.find((f) => f.file === 'rabbitmq.conf')!.diff).toContain('\n+default_pass = <password:rabbitmq_password>\n')
    const text = JSON.stringify(r) + dryRunLines(r).join('\n')
    for (const secret of ['ks-db', 'admin-pw', 'dbroot', 'keystone_fernet_seed-value', 'rabbitmq_password-value']) expect(text).not.toContain(secret)
  })

  it('after a deploy: nothing to do, every service unchanged, exit 0 material', async () => {
    const l = await lab()
    await l.deploy(SERVICES)
    const changed = l.mark()
    const r = await dryRun(testSite(), await l.plan(), testSite().hosts, l.session)
    expect(changed()).toEqual([])
    expect(r.changes).toBe(false)
    expect(r.actions).toEqual([])
    expect(r.unchanged.map((u) => `${u.host}:${u.service}:r${u.revision}`)).toEqual(['lab-1:mariadb:r1', 'lab-1:memcached:r1', 'lab-1:keystone:r1', 'lab-1:rabbitmq:r1', 'lab-2:memcached:r1', 'lab-2:keystone:r1'])
    expect(dryRunLines(r)).toContain('lab-1            keystone     r1 unchanged')
  })

  it('an override: keystone recreated on both hosts for config:keystone.conf, a unified diff, the host untouched', async () => {
    const l = await lab()
    await l.deploy(SERVICES)
    const before = l.hosts.get('lab-1')!.text('/etc/osctl/keystone/keystone.conf')
    const changed = l.mark()
    const r = await dryRun(testSite(), await l.plan(await overrides({'keystone.conf': '[token]\nexpiration = 5400\n'})), testSite().hosts, l.session)
    expect(changed()).toEqual([])
    expect(l.hosts.get('lab-1')!.text('/etc/osctl/keystone/keystone.conf')).toBe(before)
    expect(r.actions.map((a) => [a.host, a.service, a.revision, a.nextRevision])).toEqual([['lab-1', 'keystone', 1, 2], ['lab-2', 'keystone', 1, 2]])
    const c = r.actions[0].containers[0]
    expect(c).toMatchObject({action: 'recreate', reasons: ['config:keystone.conf'], fields: [], unitChanged: false})
    // (the unit names no revision: a new revision of a container leaves its unit file as it is)
    expect(c.configs).toEqual([{file: 'keystone.conf', state: 'changed', diff: [
      '--- /etc/osctl/keystone/keystone.conf (on the host)',
      '+++ /etc/osctl/keystone/keystone.conf (rendered)',
      '@@ -17,7 +17,7 @@',
      ' memcache_servers = 10.0.0.11:11211,10.0.0.12:11211',
      ' [token]',
      ' provider = fernet',
      '-expiration = 86400',
      '+expiration = 5400',
      ' ',
      ' [fernet_tokens]',
      ' key_repository = /etc/keystone/fernet-keys/',
      '',
    ].join('\n')}])
    expect(dryRunLines(r)).toEqual(expect.arrayContaining(['lab-1            keystone     r1 → r2', '  keystone: recreate (config:keystone.conf)', '    +expiration = 5400']))
  })

  it('a new image tag: the image field with the recorded and the wanted reference, not yet on the host', async () => {
    const l = await lab()
    await l.deploy(SERVICES)
    const site = testSite({imageTag: 'zed2'})
    const r = await dryRun(site, await l.plan(Overrides.empty(), site), site.hosts, l.session)
    const mc = r.actions.find((a) => a.host === 'lab-2' && a.service === 'memcached')!.containers[0]
    expect(mc).toMatchObject({action: 'recreate', reasons: ['image'], image: '10.0.0.11:4000/osctl/memcached:zed2', configs: []})
    expect(mc.fields).toEqual([{field: 'image', before: {ref: '10.0.0.11:4000/osctl/memcached:zed', id: expect.stringMatching(/^sha256:/)}, after: {ref: '10.0.0.11:4000/osctl/memcached:zed2', id: '(not on the host yet: deploy pulls it)'}}])
  })

  it("osctl.yml's Docker check timing: every container to recreate for `healthcheck`, the recorded and the wanted timing shown, no step", async () => {
    const l = await lab()
    await l.deploy(SERVICES)
    const site = testSite({containerHealthcheck: {enabled: true, intervalSeconds: 120, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 5}})
    const r = await dryRun(site, await l.plan(Overrides.empty(), site), site.hosts, l.session)
    const containers = r.actions.flatMap((a) => a.containers)
    expect(containers.length).toBeGreaterThan(0)
    expect(new Set(containers.map((c) => `${c.action} ${c.reasons.join(',')}`))).toEqual(new Set(['recreate healthcheck']))
    expect(containers[0].fields).toEqual([{field: 'healthcheck', before: {enabled: true, intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0}, after: {enabled: true, intervalSeconds: 120, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 5}}])
    expect(r.actions.flatMap((a) => a.steps)).toEqual([])
  })

  it('a stopped container is started, a host that cannot be read is a per-host failure', async () => {
    const l = await lab()
    await l.deploy(SERVICES)
    await l.engines.get('lab-1')!.stopContainer('memcached')
    l.hosts.get('lab-2')!.down = true
    const r = await dryRun(testSite(), await l.plan(), testSite().hosts, l.session)
    expect(r.actions.map((a) => [a.host, a.service, a.containers.map((c) => `${c.action}:${c.reasons.join(',')}`)])).toEqual([['lab-1', 'memcached', ['start:stopped']]])
    expect(r.hosts.map((h) => [h.host, h.ok, h.error?.code])).toEqual([['lab-1', true, undefined], ['lab-2', false, 'HOST_UNREACHABLE']])
  })
})

describe('unifiedDiff', () => {
  /** Applies a unified diff to `before` (the hunks alone), so every diff can be checked by what it does. */
  function apply(before: string, diff: string): string {
    const a = before === '' ? [] : before.replace(/\n$/, '').split('\n')
    const out: string[] = []
    let at = 0
    const lines = diff.replace(/\n$/, '').split('\n').slice(2)
    for (const l of lines) {
      const h = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(l)
      if (h) {
        const start = Number(h[2] === '0' ? Number(h[1]) : Number(h[1]) - 1)
        while (at < start) out.push(a[at++])
        continue
      }
      if (l[0] === ' ') {
        expect(a[at++]).toBe(l.slice(1))
        out.push(l.slice(1))
      } else if (l[0] === '-') expect(a[at++]).toBe(l.slice(1))
      else out.push(l.slice(1))
    }
    while (at < a.length) out.push(a[at++])
    return out.length ? `${out.join('\n')}\n` : ''
  }

  it('is empty for equal texts and applies back for edits, insertions, deletions, far-apart changes and empty sides', () => {
    expect(unifiedDiff('a\n', 'a\n', {from: 'x', to: 'y'})).toBe('')
    const base = Array.from({length: 40}, (_, i) => `line ${i}`)
    const cases: Array<[string[], string[]]> = [
      [base, base.map((l, i) => (i === 5 ? 'changed' : l))],
      [base, [...base.slice(0, 10), 'new 1', 'new 2', ...base.slice(10)]],
      [base, base.filter((_, i) => i % 7 !== 3)],
      [base, base.map((l, i) => (i === 0 || i === 39 ? `${l}!` : l))],
      [[], base.slice(0, 3)],
      [base.slice(0, 3), []],
      [['a', 'b', 'c'], ['c', 'b', 'a']],
    ]
    let seed = 7
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (let n = 0; n < 30; n++) cases.push([base, base.flatMap((l) => (rand() < 0.1 ? [] : rand() < 0.1 ? [l, `x${n}`] : rand() < 0.1 ? [`y${n}`] : [l]))])
    for (const [x, y] of cases) {
      const before = x.length ? `${x.join('\n')}\n` : ''
      const after = y.length ? `${y.join('\n')}\n` : ''
      const d = unifiedDiff(before, after, {from: 'x', to: 'y'})
      expect(d.startsWith('--- x\n+++ y\n@@ ')).toBe(true)
      expect(apply(before, d)).toBe(after)
    }
  })

  it('keeps three lines of context and splits far-apart changes into hunks', () => {
    const base = Array.from({length: 30}, (_, i) => `l${i}`)
    const d = unifiedDiff(`${base.join('\n')}\n`, `${base.map((l, i) => (i === 2 || i === 25 ? 'X' : l)).join('\n')}\n`, {from: 'a', to: 'b'})
    expect(d.split('\n').filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,6 +1,6 @@', '@@ -23,7 +23,7 @@'])
  })

  it('masks passwords, longest first', () => {
    const redact = redactor({a_password: 'secret-1', b_password: 'secret-12', short: 'ab'})
    expect(redact('x=secret-12 y=secret-1 z=ab')).toBe('x=<password:b_password> y=<password:a_password> z=ab')
  })
})
