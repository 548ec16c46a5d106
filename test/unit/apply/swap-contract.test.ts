import {describe} from 'vitest'

import {swapContract} from '../../contracts/swap-contract.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {labHost} from '../../fakes/fake-lab-host.js'

describe('fake lab host', () => {
  swapContract('labHost + FakeEngine', async () => {
    const engine = new FakeEngine()
    engine.addImage('contract/sh:1', {})
    const host = labHost('lab-1', '10.0.0.11', engine)
    host.on(/^journalctl /, () => '')
    return {host, engine, createRunning: async (name, labels) => void (await engine.createContainer({name, image: 'contract/sh:1', labels}))}
  })
})
