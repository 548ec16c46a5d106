import {describe, expect, it} from 'vitest'

import {registryImageLabels} from '../../../src/images/registry-labels.js'
import {testSite} from '../../fakes/site.js'

/** A registry API answering from a table of path → JSON body; other paths 404. */
const registry = (routes: Record<string, unknown>, seen: string[] = []): typeof fetch =>
  (async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url).replace('http://10.0.0.11:4000/v2/osctl/', '')
    seen.push(`${path} ${(init?.headers as Record<string, string> | undefined)?.Accept ? 'accept' : ''}`.trim())
    return path in routes ? new Response(JSON.stringify(routes[path]), {status: 200}) : new Response('{}', {status: 404})
  }) as typeof fetch

describe('image labels from the site registry', () => {
  const site = testSite()

  it('reads the manifest, then its config blob', async () => {
    const seen: string[] = []
    const fetchImpl = registry({'keystone/manifests/2': {config: {digest: 'sha256:c1'}}, 'keystone/blobs/sha256:c1': {config: {Labels: {'io.osctl.openstack-release': 'zed'}}}}, seen)
    expect(await registryImageLabels(site, 'keystone', '2', fetchImpl)).toEqual({'io.osctl.openstack-release': 'zed'})
    expect(seen).toEqual(['keystone/manifests/2 accept', 'keystone/blobs/sha256:c1'])
  })

  it('follows an index to its linux/amd64 manifest', async () => {
    const fetchImpl = registry({
      'nova-api/manifests/2': {manifests: [{digest: 'sha256:arm', platform: {os: 'linux', architecture: 'arm64'}}, {digest: 'sha256:amd', platform: {os: 'linux', architecture: 'amd64'}}]},
      'nova-api/manifests/sha256:amd': {config: {digest: 'sha256:c2'}},
      'nova-api/blobs/sha256:c2': {config: {Labels: null}},
    })
    expect(await registryImageLabels(site, 'nova-api', '2', fetchImpl)).toEqual({})
  })

  it('is undefined when the image is missing or the registry does not answer', async () => {
    expect(await registryImageLabels(site, 'keystone', 'nope', registry({}))).toBeUndefined()
    const down = (async () => {
      throw new TypeError('fetch failed')
    }) as typeof fetch
    expect(await registryImageLabels(site, 'keystone', '2', down)).toBeUndefined()
  })
})
