import {describe, expect, it} from 'vitest'

import {decideService, type DecideOptions} from '../../../src/apply/decide.js'
import type {ObservedContainer, ObservedService} from '../../../src/apply/observe.js'
import {fingerprintKey, stepKey} from '../../../src/apply/bootstrap-steps.js'
import {renderServiceUnit} from '../../../src/apply/service-unit.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {LABELS, desiredSpec, specHash} from '../../../src/catalog/container-spec.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import type {RenderedService} from '../../../src/catalog/render.js'
import {renderService} from '../../../src/catalog/render.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import type {JournalEntry} from '../../../src/revisions/journal.js'
import type {RevisionRecord} from '../../../src/revisions/ledger.js'
import {testSite} from '../../fakes/site.js'

// decide() is a pure function: every case below is a rendered service and a hand-made observation
// of a host, no host and no engine involved.
const site = testSite()
const IMAGE = 'sha256:aaa'
const opts: DecideOptions = {op: 'deploy', runOnce: true, operation: 'deploy-test', createdBy: 'test@here', now: '2026-12-02T00:00:00.000Z'}

async function nova(): Promise<RenderedService> {
  const catalog = await loadCatalog(TEMPLATES_DIR)
  return renderService(catalog.get('nova')!, site, site.hosts[0], Overrides.empty())
}

/** The host exactly as a deploy of `rs` at `revision` leaves it (optionally with some things changed). */
function converged(rs: RenderedService, revision: number, change: (c: ObservedContainer, name: string) => void = () => {}): ObservedService {
  const containers = new Map<string, ObservedContainer>()
  const record: RevisionRecord = {format: 1, service: rs.service, host: 'lab-1', revision, createdAt: '', createdBy: '', outcome: 'active', containers: []}
  for (const rc of rs.containers) {
    const spec = desiredSpec(rc, IMAGE)
    const o: ObservedContainer = {
      actual: {id: rc.name, name: rc.name, image: rc.imageRef, imageId: IMAGE, labels: {[LABELS.configHash]: specHash(spec)}, state: 'running'},
      spareNext: false,
      unitEnabled: true,
      unitText: renderServiceUnit({service: rs.service, container: rc.name}),
      unitActive: true,
      configs: {...rc.files},
      imageId: IMAGE,
    }
    change(o, rc.name)
    containers.set(rc.name, o)
    record.containers.push({name: rc.name, image: rc.imageRef, imageId: IMAGE, spec, hash: specHash(spec), unitName: '', changed: []})
  }
  const fingerprints = Object.fromEntries(rs.steps.filter((s) => s.imagePaths?.length).map((s) => [fingerprintKey(IMAGE, s.imagePaths!), 'sha256:migrations-1']))
  const bootstrapKeys = Object.fromEntries(rs.steps.map((s) => [s.name, stepKey(s, record.containers.find((c) => c.name === s.container)!.spec, fingerprints)]))
  return {host: 'lab-1', record, nextRevision: revision + 1, bootstrapKeys, fingerprints, containers}
}

describe('decideService', () => {
  it('an empty host: revision 1, every container created, every step run (once steps on the first host only)', async () => {
    const rs = await nova()
    const empty: ObservedService = {host: 'lab-1', nextRevision: 1, bootstrapKeys: {}, fingerprints: {}, containers: new Map(rs.containers.map((c) => [c.name, {spareNext: false, unitActive: false, unitEnabled: false, configs: {}, imageId: IMAGE}]))}
    const d = decideService(rs, empty, opts)
    expect(d).toMatchObject({revision: 1, newRevision: true, journaled: true})
    expect(d.containers.map((c) => [c.rc.name, c.action, c.reasons])).toEqual(rs.containers.map((c) => [c.name, 'create', ['new']]))
    expect(d.steps.map((s) => s.step.name)).toEqual(['db-sync', 'keystone-register'])
    expect(d.record?.outcome).toBe('deploying')
    expect(decideService(rs, empty, {...opts, runOnce: false}).steps).toEqual([])
  })

  it('when a step runs (beside) is not part of its key: a step moved beside the others does not run again', async () => {
    const rs = await nova()
    const register = rs.steps.find((s) => s.name === 'keystone-register')!
    expect(register.beside).toBe('steps')
    const spec = desiredSpec(rs.containers.find((c) => c.name === register.container)!, IMAGE)
    expect(stepKey(register, spec)).toBe(stepKey({...register, beside: undefined}, spec))
    expect(stepKey(register, spec)).not.toBe(stepKey({...register, env: {...register.env, SERVICE_PASSWORD: 'other'}}, spec))
  })

  it('a converged host: nothing to do, not even a journal entry', async () => {
    const rs = await nova()
    const d = decideService(rs, converged(rs, 4), opts)
    expect(d).toMatchObject({revision: 4, newRevision: false, journaled: false, steps: []})
    expect(d.record).toBeUndefined()
    expect(d.containers.every((c) => c.action === 'none' && !c.unitChanged && c.configChanged.length === 0)).toBe(true)
  })

  it("osctl.yml's Docker check timing: the default renders nothing new (a host deployed before it existed is converged); another one recreates every container, named `healthcheck`, and runs no step", async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const render = (s: typeof site) => renderService(catalog.get('nova')!, s, s.hosts[0], Overrides.empty())
    const before = await nova()
    expect(before.containers.every((c) => c.dockerCheck === undefined)).toBe(true)
    const slow = render(testSite({containerHealthcheck: {enabled: true, intervalSeconds: 300, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0}}))
    const d = decideService(slow, converged(before, 4), opts)
    expect(d.containers.map((c) => [c.action, c.reasons])).toEqual(slow.containers.map(() => ['recreate', ['healthcheck']]))
    expect(d.steps).toEqual([])
    // Turned off: only `enabled` counts, whatever the timings say.
    const off = render(testSite({containerHealthcheck: {enabled: false, intervalSeconds: 300, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0}}))
    expect(off.containers[0].dockerCheck).toEqual({enabled: false, intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0})
  })

  it("a no-op takes Docker's `healthy` only while it is as fresh as with the default timing (interval × retries ≤ 90 s) and only with checks on", async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const healthy = (c: ObservedContainer) => void (c.actual!.health = 'healthy')
    const trusted = (h: typeof site.config.containerHealthcheck) => {
      const s = testSite({containerHealthcheck: h})
      const rs = renderService(catalog.get('nova')!, s, s.hosts[0], Overrides.empty())
      const d = decideService(rs, converged(rs, 4, healthy), opts)
      expect(d.containers.every((c) => c.action === 'none')).toBe(true)
      return d.containers.map((c) => c.dockerHealthy ?? false)
    }
    const timing = {enabled: true, intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0}
    expect(new Set(trusted(timing))).toEqual(new Set([true]))
    expect(new Set(trusted({...timing, intervalSeconds: 15, retries: 6}))).toEqual(new Set([true]))
    expect(new Set(trusted({...timing, intervalSeconds: 120}))).toEqual(new Set([false]))
    expect(new Set(trusted({...timing, enabled: false}))).toEqual(new Set([false]))
  })

  it('a changed config file recreates only the containers that use it, with the file named, under a new revision', async () => {
    const rs = await nova()
    const seen = converged(rs, 4)
    const api = rs.containers.find((c) => c.name === 'nova-api')!
    const changedConf = api.files['nova.conf'] + '\n[DEFAULT]\ndebug = true\n'
    for (const c of rs.containers) if (c.files['nova.conf'] !== undefined) c.files['nova.conf'] = changedConf
    const d = decideService(rs, seen, opts)
    expect(d).toMatchObject({revision: 5, newRevision: true, previous: 4})
    const users = rs.containers.filter((c) => c.files['nova.conf'] !== undefined).map((c) => c.name)
    expect(d.containers.filter((c) => c.action === 'recreate').map((c) => c.rc.name)).toEqual(users)
    expect(d.containers.find((c) => c.rc.name === 'nova-api')).toMatchObject({reasons: ['config:nova.conf'], configChanged: ['nova.conf']})
    expect(d.containers.filter((c) => !users.includes(c.rc.name)).every((c) => c.action === 'none')).toBe(true)
    // The step keys follow the spec: db-sync runs again with the new config.
    expect(d.steps.map((s) => s.step.name)).toContain('db-sync')
  })

  it('a stopped container is started under the same revision; a missing one is recreated as "missing"', async () => {
    const rs = await nova()
    const seen = converged(rs, 2, (o, name) => {
      if (name === 'nova-scheduler') Object.assign(o, {unitActive: false, actual: {...o.actual!, state: 'exited'}})
      if (name === 'nova-conductor') delete o.actual
    })
    const d = decideService(rs, seen, opts)
    expect(d).toMatchObject({revision: 2, newRevision: false, journaled: true})
    expect(d.containers.find((c) => c.rc.name === 'nova-scheduler')).toMatchObject({action: 'start', reasons: ['stopped']})
    expect(d.containers.find((c) => c.rc.name === 'nova-conductor')).toMatchObject({action: 'create', reasons: ['missing']})
  })

  it('an image the host does not have yet (dry run) counts as an image change', async () => {
    const rs = await nova()
    const d = decideService(rs, converged(rs, 3, (o, name) => name === 'nova-api' && delete o.imageId), opts)
    expect(d.containers.find((c) => c.rc.name === 'nova-api')).toMatchObject({action: 'recreate', reasons: ['image']})
  })

  it('a new image runs db-sync only when its migrations differ, and never a step that depends on config alone', async () => {
    const rs = await nova()
    const NEW = 'sha256:bbb'
    const paths = rs.steps.find((s) => s.name === 'db-sync')!.imagePaths!
    expect(paths).toEqual(['/usr/lib/python3/dist-packages/nova/db'])
    expect(rs.steps.find((s) => s.name === 'keystone-register')!.imagePaths).toEqual([])
    const upgraded = (fp: string) => {
      const seen = converged(rs, 3, (o) => (o.imageId = NEW))
      seen.fingerprints[fingerprintKey(NEW, paths)] = fp
      return decideService(rs, seen, opts)
    }
    const same = upgraded('sha256:migrations-1')
    expect(same.containers.every((c) => c.action === 'recreate' && c.reasons.includes('image'))).toBe(true)
    expect(same.steps).toEqual([])
    expect(upgraded('sha256:migrations-2').steps.map((s) => s.step.name)).toEqual(['db-sync'])
    // Not read yet (a dry run does not start containers): counted as changed.
    expect(decideService(rs, converged(rs, 3, (o) => (o.imageId = NEW)), opts).steps.map((s) => s.step.name)).toEqual(['db-sync'])
  })

  it('a planned revision number wins over the host next one (upgrade plans it once)', async () => {
    const rs = await nova()
    const seen = converged(rs, 3, (o) => delete o.imageId)
    expect(decideService(rs, seen, {...opts, revision: 9}).revision).toBe(9)
  })

  it('journal entries: a live one refuses, an interrupted upgrade is not taken over by deploy, an interrupted deploy is', async () => {
    const rs = await nova()
    const entry: JournalEntry = {format: 1, op: 'upgrade', service: 'nova', host: 'lab-1', operation: 'upgrade-x', revision: 5, current: 4, machine: 'elsewhere', pid: 1, user: 'u', startedAt: ''}
    const seen = (state: 'running' | 'interrupted', op: JournalEntry['op']) => ({...converged(rs, 4), journal: {state, entry: {...entry, op}}})
    expect(() => decideService(rs, seen('running', 'deploy'), opts)).toThrow(expect.objectContaining({code: 'USAGE', message: expect.stringContaining('is being changed by another osctl')}))
    expect(() => decideService(rs, seen('interrupted', 'upgrade'), opts)).toThrow(expect.objectContaining({message: expect.stringContaining('deploy will not pick a side')}))
    expect(decideService(rs, seen('interrupted', 'upgrade'), {...opts, op: 'upgrade'}).takeOver?.revision).toBe(5)
    expect(decideService(rs, seen('interrupted', 'deploy'), opts).takeOver?.op).toBe('deploy')
  })
})
