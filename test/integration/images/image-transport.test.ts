import {execa} from 'execa'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {localOci} from '../../../src/images/image-transport.js'
import {busyboxImage} from '../../helpers/busybox-image.js'

/**
 * Exports into the machine's OCI layout cache run at once (parallel pushes, two osctl): every
 * export keeps its tag. Unlocked, skopeo's index.json rewrites lost tags ("no descriptor found").
 */
describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('image transport: the local OCI layout under concurrent exports', () => {
  const refs = Array.from({length: 6}, (_, i) => `osctl-test/transport-${process.pid}:${i}`)
  const ids: string[] = []

  beforeAll(async () => {
    const base = await busyboxImage()
    const ctx = await mkdtemp(join(tmpdir(), 'osctl-transport-'))
    try {
      for (const [i, ref] of refs.entries()) {
        // A label per image: another image id (own config), same layers.
        await writeFile(join(ctx, 'Dockerfile'), `FROM ${base}\nLABEL io.osctl.test.transport=${process.pid}-${i}-${Date.now()}\n`)
        await execa('docker', ['build', '-q', '-t', ref, ctx])
        ids.push(String((await execa('docker', ['image', 'inspect', '-f', '{{.Id}}', ref])).stdout).trim())
      }
    } finally {
      await rm(ctx, {recursive: true, force: true})
    }
  }, 300_000)
  afterAll(async () => {
    await execa('docker', ['rmi', ...refs], {reject: false})
  })

  it('six exports at once: each tag is in the layout afterwards and reads back as its image', async () => {
    const ocis = await Promise.all(refs.map((ref, i) => localOci(ref, ids[i])))
    for (const [i, oci] of ocis.entries()) {
      const config = JSON.parse(String((await execa('skopeo', ['inspect', '--config', '--raw', oci])).stdout))
      expect(config.config.Labels['io.osctl.test.transport'], oci).toMatch(new RegExp(`^${process.pid}-${i}-`))
    }
  }, 300_000)
})
