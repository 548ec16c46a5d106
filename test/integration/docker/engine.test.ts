import {execa} from 'execa'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {describe} from 'vitest'

import {DockerodeClient} from '../../../src/docker/docker-client.js'
import {engineContract} from '../../contracts/engine-contract.js'
import {imageContract} from '../../contracts/image-contract.js'
import {busyboxImage} from '../../helpers/busybox-image.js'

// The real engine on this machine (the one `scripts/setup.sh` starts) against the same contract
// as FakeEngine. The registry for the "missing image" case is a few lines of HTTP on loopback that
// answers like a registry without the image (dockerd trusts 127.0.0.0/8 over plain HTTP).
describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('DockerodeClient (local engine)', () => {
  engineContract('DockerodeClient', async () => {
    const info = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], {reject: false})
    if (info.exitCode !== 0) throw new Error(`Docker is not available (set OSCTL_SKIP_INTEGRATION=1 to skip): ${info.stderr}`)
    const image = await busyboxImage()
    const registry = createServer((req, res) => {
      res.setHeader('Docker-Distribution-API-Version', 'registry/2.0')
      if (req.url === '/v2/') return res.end('{}')
      res.statusCode = 404
      res.setHeader('Content-Type', 'application/json')
      res.end(JSON.stringify({errors: [{code: 'MANIFEST_UNKNOWN', message: 'manifest unknown'}]}))
    })
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve))
    const port = (registry.address() as AddressInfo).port
    const engine = new DockerodeClient('local')
    return {
      engine,
      image,
      missingRef: `127.0.0.1:${port}/osctl/nothing:1`,
      createRunning: async (name, labels) => void (await engine.createContainer({name, image, labels, command: ['sleep', '3600']})),
      createOneShot: async (name, code, text, labels) => void (await engine.createContainer({name, image, labels, command: ['sh', '-c', `echo ${text}; exit ${code}`]})),
      close: async () => {
        registry.close()
      },
    }
  })
})

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('DockerodeClient (local engine): images', () => {
  imageContract('DockerodeClient', async () => ({docker: new DockerodeClient('local'), base: await busyboxImage()}))
})
