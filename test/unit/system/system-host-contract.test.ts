import {describe} from 'vitest'

import {systemHostContract} from '../../contracts/system-host-contract.js'
import {FakeSystemdHost} from '../../fakes/fake-systemd-host.js'

describe('FakeSystemdHost', () => {
  systemHostContract('FakeSystemdHost', async () => {
    const host = new FakeSystemdHost()
    host.registry.set('r:4000/osctl/etcd:zed', `sha256:${'ab'.repeat(32)}`)
    return {host, ref: 'r:4000/osctl/etcd:zed', missingRef: 'r:4000/osctl/etcd:no-such-tag'}
  })
})
