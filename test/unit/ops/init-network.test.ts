import {describe, expect, it} from 'vitest'

import {externalNetwork} from '../../../src/ops/init-network.js'
import {OsctlError} from '../../../src/errors.js'
import {testSite} from '../../fakes/site.js'

describe('post-deploy --init-network: the external network from osctl.yml', () => {
  it('splits the pool and keeps cidr and gateway', () => {
    const site = testSite({externalNetwork: {cidr: '10.99.0.0/24', gateway: '10.99.0.1', range: '10.99.0.100-10.99.0.199'}})
    expect(externalNetwork(site)).toEqual({cidr: '10.99.0.0/24', gateway: '10.99.0.1', start: '10.99.0.100', end: '10.99.0.199'})
  })

  it('names the first missing key of osctl.yml, as a usage error, before any API is asked', () => {
    const cases: Array<[Parameters<typeof testSite>[0], string]> = [
      [{}, 'external_network_cidr'],
      [{externalNetwork: {cidr: '10.99.0.0/24'}}, 'external_network_gateway'],
      [{externalNetwork: {cidr: '10.99.0.0/24', gateway: '10.99.0.1'}}, 'external_network_range'],
    ]
    for (const [config, key] of cases) {
      let err: unknown
      try {
        externalNetwork(testSite(config))
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(OsctlError)
      expect(err).toMatchObject({code: 'CONFIG_INVALID', exitCode: 2, message: `--init-network needs ${key} in osctl.yml`})
    }
  })
})
