import {setTimeout as sleep} from 'node:timers/promises'
import {describe, expect, it} from 'vitest'

import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
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
})
