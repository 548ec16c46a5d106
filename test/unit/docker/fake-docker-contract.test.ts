import {describe} from 'vitest'

import {imageContract} from '../../contracts/image-contract.js'
import {FakeDocker} from '../../fakes/fake-docker.js'

describe('FakeDocker', () => {
  imageContract('FakeDocker', async () => {
    const docker = Object.assign(new FakeDocker(), {buildLogLines: 0})
    docker.addImage('contract/base:1', {})
    return {docker, base: 'contract/base:1'}
  })
})
