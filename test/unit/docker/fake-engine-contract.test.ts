import {describe} from 'vitest'

import {engineContract} from '../../contracts/engine-contract.js'
import {FakeEngine} from '../../fakes/fake-engine.js'

describe('FakeEngine', () => {
  engineContract('FakeEngine', async () => {
    const engine = new FakeEngine()
    const image = 'contract/sh:1'
    engine.addImage(image, {})
    return {
      engine,
      image,
      missingRef: '10.0.0.11:4000/osctl/nothing:1',
      createRunning: async (name, labels) => void (await engine.createContainer({name, image, labels})),
      createOneShot: async (name, code, text, labels) => {
        await engine.createContainer({name, image, labels})
        engine.exitCodes.set(name, code)
        engine.output.set(name, `${text}\n`)
      },
    }
  })
})
