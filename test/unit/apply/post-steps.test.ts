import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {stepContainerName} from '../../../src/apply/bootstrap-steps.js'
import {postStepForced, postStepKey, postStepTrigger} from '../../../src/apply/post-steps.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import type {ContainerSpec} from '../../../src/catalog/container-spec.js'
import type {RenderedStep} from '../../../src/catalog/render.js'
import {serviceHosts} from '../../../src/catalog/service-hosts.js'
import {OsctlErrors} from '../../../src/errors.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {upgradeService} from '../../../src/lifecycle/service-upgrade.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const step = (extra: Partial<RenderedStep> = {}): RenderedStep => ({name: 'discover-hosts', container: 'nova-api', once: true, env: {}, ...extra})
const spec = (extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name: 'nova-api', service: 'nova', image: 'r/osctl/nova-api:zed', imageId: 'sha256:aaa', env: {}, volumes: [], health: {kind: 'tcp', target: 'x:8774', timeoutSeconds: 60}, configs: {'nova.conf': 'c1'}, ...extra,
})
const result = (containers: Array<[string, string]>) => ({status: containers.some(([, s]) => s !== 'unchanged') ? 'changed' : 'unchanged', containers: containers.map(([name, status]) => ({name, status}))})

describe('post_deploy steps: what reruns them', () => {
  it('a step with `after` is forced only by those containers created, recreated or started; one without, by any change', () => {
    const upgradeOfNovaApi = postStepTrigger([result([['nova-api', 'recreated'], ['nova-metadata', 'unchanged']]), result([['nova-compute', 'unchanged']])])
    expect(upgradeOfNovaApi.changed).toBe(true)
    expect(postStepForced(step({after: ['nova-compute']}), upgradeOfNovaApi)).toBe(false)
    expect(postStepForced(step(), upgradeOfNovaApi)).toBe(true)
    for (const status of ['created', 'recreated', 'started']) {
      expect(postStepForced(step({after: ['nova-compute']}), postStepTrigger([result([['nova-compute', status]])])), status).toBe(true)
    }
    const nothing = postStepTrigger([result([['nova-api', 'unchanged'], ['nova-compute', 'unchanged']])])
    expect(postStepForced(step({after: ['nova-compute']}), nothing)).toBe(false)
    expect(postStepForced(step(), nothing)).toBe(false)
  })

  it('with `after` the key ignores the container’s image but not its config or the step; without, the image counts', () => {
    const after = step({after: ['nova-compute']})
    const newImage = spec({image: 'r/osctl/nova-api:2', imageId: 'sha256:bbb'})
    expect(postStepKey(after, newImage)).toBe(postStepKey(after, spec()))
    expect(postStepKey(step(), newImage)).not.toBe(postStepKey(step(), spec()))
    expect(postStepKey(after, spec({configs: {'nova.conf': 'c2'}}))).not.toBe(postStepKey(after, spec()))
    expect(postStepKey({...after, env: {X: '1'}}, spec())).not.toBe(postStepKey(after, spec()))
  })
})

describe('post_deploy `after` in service.yml', () => {
  it('names containers of any service; an unknown one is refused at its line with the nearest name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osctl-after-'))
    try {
      await cp(TEMPLATES_DIR, dir, {recursive: true})
      const file = join(dir, 'nova', 'service.yml')
      const text = await readFile(file, 'utf8')
      expect((await loadCatalog(dir)).get('nova')!.post_deploy.map((p) => p.after)).toEqual([['nova-compute']])
      await writeFile(file, text.replace('after: [nova-compute]', 'after: [nova-compte]'))
      const err = await loadCatalog(dir).then(() => undefined, (e: unknown) => e as OsctlErrors)
      const line = text.split('\n').findIndex((l) => l.includes('after: [nova-compute]')) + 1
      expect(err?.errors.map((e) => [e.message, e.hint, e.location])).toEqual([['post_deploy step discover-hosts is triggered by unknown container nova-compte', 'did you mean nova-compute?', `${file}:${line}:13`]])
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('nova discover-hosts on a fake lab (one host: control and compute)', () => {
  const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance', 'placement', 'nova', 'nova-compute']
  const IMAGES = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute']

  it('runs on the first deploy and when a deploy creates or recreates a nova-compute, not when only nova-api changes (upgrade or deploy)', async () => {
    const site = testSite({enabledServices: SERVICES, novaComputeDriver: 'fake'}, undefined, 1)
    site.hosts[0].groups.push('compute')
    const lab = fakeLab(site, [...registryRefs(IMAGES, ['zed']), ...registryRefs(['nova-api', 'nova-compute'], ['2'])])
    const e1 = lab.engines.get('lab-1')!
    const runs = () => e1.calls.filter((c) => c === `create ${stepContainerName('nova-api', 'discover-hosts')}`).length
    const first = await lab.deploy(SERVICES)
    expect(first.hosts.every((h) => h.ok), JSON.stringify(first.hosts)).toBe(true)
    expect(runs()).toBe(1)

    const upgrade = async (container: string) => {
      const c = await lab.ctx()
      const def = c.catalog.services.find((s) => s.containers.some((x) => x.name === container))!
      return upgradeService(c, def, serviceHosts(c, def), {tag: '2', serial: 1, reporter: new RecordingReporter(), containers: [container], verifyImages: async () => {}})
    }
    // The compute host's nova-compute is gone (host rebuilt): deploy creates it and maps it again.
    e1.containers.delete('nova-compute')
    const again = await lab.deploy(SERVICES)
    expect(again.services.find((s) => s.service === 'nova' && s.host === 'lab-1')!.bootstrap).toEqual(['discover-hosts'])
    expect(runs()).toBe(2)

    const up = await upgrade('nova-api')
    expect(up.upgraded).toEqual(['lab-1'])
    expect(e1.containers.get('nova-api')!.image).toBe('10.0.0.11:4000/osctl/nova-api:2')
    expect(up.deploys.flatMap((d) => d.services.flatMap((s) => s.bootstrap))).not.toContain('discover-hosts')
    expect(runs()).toBe(2)

    // A deploy that changes nova-api only (back to the site's tag) does not run it either.
    const status = (r: Awaited<ReturnType<typeof lab.deploy>>, host: string, name: string) => r.services.find((s) => s.host === host && s.containers.some((c) => c.name === name))!.containers.find((c) => c.name === name)!.status
    const back = await lab.deploy(SERVICES)
    expect([status(back, 'lab-1', 'nova-api'), status(back, 'lab-1', 'nova-compute')]).toEqual(['recreated', 'unchanged'])
    expect(runs()).toBe(2)

    // A deploy that recreates nova-compute (here: back from an image of its own) runs it.
    expect((await upgrade('nova-compute')).upgraded).toEqual(['lab-1'])
    const recreated = await lab.deploy(SERVICES)
    expect(status(recreated, 'lab-1', 'nova-compute')).toBe('recreated')
    expect(runs()).toBe(3)
  })
})
