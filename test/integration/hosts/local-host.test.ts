import {describe} from 'vitest'

import {LocalHost} from '../../../src/hosts/local-host.js'
import {hostContract} from './host-contract.js'

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('LocalHost', () => {
  hostContract('LocalHost', async () => new LocalHost())
})
