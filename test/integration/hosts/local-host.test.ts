import {once} from 'node:events'
import {type AddressInfo, createServer} from 'node:net'
import {afterAll, describe} from 'vitest'

import {LocalHost} from '../../../src/hosts/local-host.js'
import {hostContract} from './host-contract.js'

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('LocalHost', () => {
  const server = createServer((socket) => socket.end('osctl-contract\n'))
  afterAll(() => server.close())
  hostContract('LocalHost', async () => new LocalHost(), async () => {
    if (!server.listening) await once(server.listen(0, '127.0.0.1'), 'listening')
    return {address: '127.0.0.1', port: (server.address() as AddressInfo).port, greeting: /^osctl-contract\n/}
  })
})
