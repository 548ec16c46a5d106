import {setTimeout as sleep} from 'node:timers/promises'
import {describe, expect, it, onTestFinished} from 'vitest'

import {stepContainerName} from '../../../src/apply/bootstrap-steps.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {labKeystone} from '../../fakes/fake-keystone.js'
import {testSite} from '../../fakes/site.js'

describe('the containers of one service', () => {
  it('new ones start side by side (nova\'s four swapped in at once); an upgrade swaps them one at a time, in order', async () => {
    const site = testSite()
    const services = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'placement', 'glance', 'nova']
    const images = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'placement-api', 'glance-api', 'nova-api', 'nova-conductor', 'nova-scheduler']
    const lab = fakeLab(site, registryRefs(images, ['zed', 'next']))
    const h = lab.hosts.get('lab-1')!
    // The host's swap of each nova container (systemd-run … osctl-swap-<name>) takes a little while: how many overlap?
    const swaps: string[] = []
    let inFlight = 0
    let most = 0
    h.around(/^systemd-run /, async (call, _host, swap) => {
      const nova = /osctl-swap-(nova-(?:api|conductor|scheduler|metadata))-/.exec(call.line)?.[1]
      if (!nova) return swap()
      swaps.push(nova)
      most = Math.max(most, ++inFlight)
      await sleep(30)
      inFlight--
      return swap()
    })
    const first = await lab.deploy(services)
    expect(first.hosts.every((x) => x.ok), JSON.stringify(first.hosts)).toBe(true)
    expect([...swaps].sort()).toEqual(['nova-api', 'nova-conductor', 'nova-metadata', 'nova-scheduler'])
    expect(most).toBe(4)

    // A new tag everywhere: each nova container's swap ends (and it is healthy) before the next one's begins, in the service's order.
    swaps.length = 0
    most = 0
    site.config.imageTag = 'next'
    const second = await lab.deploy(services)
    expect(second.hosts.every((x) => x.ok), JSON.stringify(second.hosts)).toBe(true)
    expect(swaps).toEqual(['nova-api', 'nova-conductor', 'nova-scheduler', 'nova-metadata'])
    expect(most).toBe(1)
  })

  it('a step beside the containers (placement\'s registration): new containers start without it; a swap waits for it, and its failure leaves the running ones', async () => {
    const site = testSite()
    const services = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'placement']
    const lab = fakeLab(site, registryRefs(['mariadb', 'memcached', 'rabbitmq', 'keystone', 'placement-api'], ['zed']))
    const e1 = lab.engines.get('lab-1')!
    // placement's registration takes a while (keystone's answers, keystone-register.ts).
    labKeystone.slow.set('placement', 300)
    onTestFinished(() => {
      labKeystone.slow.delete('placement')
      labKeystone.refuse.delete('placement')
    })
    // keystone answers its health check only after a while (its workers loading).
    let keystoneProbes = 0
    lab.hosts.get('lab-1')!.on(/^timeout 5 bash -c .*5000/, async () => {
      if (keystoneProbes++ === 0) await sleep(800)
      return 'HTTP/1.0 300 Multiple Choices\r\n\r\n'
    })
    const reporter = new RecordingReporter()
    const first = await lab.deploy(services, undefined, reporter)
    expect(first.hosts.every((x) => x.ok), JSON.stringify(first.hosts)).toBe(true)
    const at = (code: string, pred: (d: Record<string, unknown>) => boolean) => reporter.events.findIndex((e) => e.code === code && e.host === 'lab-1' && pred(e.data as Record<string, unknown>))
    // placement's container was up before keystone's (it needs mariadb and memcached), its
    // registration after keystone's; the service counted done only after both.
    expect(keystoneProbes).toBeGreaterThan(0)
    const up = at('service.container.done', (d) => d.service === 'placement')
    expect(up).toBeLessThan(at('service.container.done', (d) => d.service === 'keystone'))
    expect(up).toBeLessThan(at('service.step.done', (d) => d.service === 'placement' && d.step === 'keystone-register'))
    expect(first.services.find((r) => r.service === 'placement' && r.host === 'lab-1')).toMatchObject({status: 'changed', bootstrap: expect.arrayContaining(['db-sync', 'keystone-register'])})

    // A new keystone password for placement: a new config (a swap) and the registration again,
    // which fails: the running container is kept, the new revision recorded failed.
    site.passwords.placement_keystone_password = 'next-pw'
    labKeystone.refuse.add('placement')
    const second = await lab.deploy(services)
    expect(second.hosts[0].ok).toBe(false)
    expect(second.hosts[0].error?.message).toMatch(/keystone registration of placement at http:\/\/\S+ failed: (create )?user placement: 403 /)
    expect(e1.containers.get('placement-api')!.labels['io.osctl.revision']).toBe('1')
    const record = (n: number) => JSON.parse(lab.hosts.get('lab-1')!.text(`/var/lib/osctl/services/placement/revisions/${n}/record.json`)!)
    expect(record(2).outcome).toBe('failed')
    // It succeeds again: the swap happens after the registration.
    labKeystone.refuse.delete('placement')
    const third = await lab.deploy(services)
    expect(third.hosts.every((x) => x.ok), JSON.stringify(third.hosts)).toBe(true)
    expect(Number(e1.containers.get('placement-api')!.labels['io.osctl.revision'])).toBeGreaterThan(2)
  })

  it('a failed step: a step beside it that still waits never starts, and the service fails with the first error once nothing of it runs', async () => {
    const site = testSite()
    const services = ['mariadb', 'memcached', 'rabbitmq', 'keystone', 'placement']
    const lab = fakeLab(site, registryRefs(['mariadb', 'memcached', 'rabbitmq', 'keystone', 'placement-api'], ['zed']))
    const e1 = lab.engines.get('lab-1')!
    // keystone takes a while; placement's db sync fails meanwhile.
    e1.runMs.set(stepContainerName('keystone', 'bootstrap'), 300)
    e1.exitCodes.set(stepContainerName('placement-api', 'db-sync'), 1)
    const reporter = new RecordingReporter()
    const result = await lab.deploy(services, undefined, reporter)
    expect(result.hosts[0].ok).toBe(false)
    expect(result.hosts[0].error?.message).toMatch(/bootstrap step db-sync of placement exited with 1/)
    expect(reporter.of('service.step.start').filter((e) => e.data.service === 'placement').map((e) => e.data.step)).toEqual(['db-sync'])
    expect(e1.created()).not.toContain('placement-api')
    // keystone itself was deployed.
    expect(e1.created()).toContain('keystone')
  })
})
