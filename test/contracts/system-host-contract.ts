import {randomBytes} from 'node:crypto'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Host} from '../../src/hosts/host.js'
import {fetchImage, unpackNew, unpackRecorded} from '../../src/system/bundle.js'
import {unitState} from '../../src/system/health.js'
import {bundleDir, currentLink, systemDir, unitPath} from '../../src/system/layout.js'
import {SystemManager} from '../../src/system/manager.js'
import {RevisionStore} from '../../src/system/revisions.js'
import {SlotStore} from '../../src/system/slot-store.js'
import {renderSystemUnit} from '../../src/system/unit.js'

export interface SystemHostFixture {
  host: Host
  /** An image the host can pull from the site registry. */
  ref: string
  /** A reference to that registry which names no image. */
  missingRef: string
  close?(): Promise<void>
}

/**
 * What SystemManager asks of a host (skopeo into the OCI store, umoci unpack/ls/rm/gc, the
 * `current` symlink flip, systemd unit state), run through the same modules against
 * FakeSystemdHost and a real bootstrapped lab host, so the fake cannot drift from the host.
 */
export function systemHostContract(label: string, make: () => Promise<SystemHostFixture>): void {
  describe(`System host contract: ${label}`, () => {
    let f: SystemHostFixture
    const name = `contract${randomBytes(3).toString('hex')}`
    const needs = {args: ['/bin/sh', '-c', 'sleep 3600'], env: ['CONTRACT=1'], mounts: []}

    beforeAll(async () => {
      f = await make()
    }, 300_000)
    afterAll(async () => {
      await f.host.exec(['systemctl', 'disable', '--now', `osctl-${name}.service`]).catch(() => undefined)
      await f.host.remove(unitPath(name)).catch(() => undefined)
      await new RevisionStore(f.host).removeImages(name).catch(() => undefined)
      await f.host.remove(systemDir(name)).catch(() => undefined)
      await f.close?.()
    })

    it('reads the image config digest the registry serves, and refuses an unknown image as IMAGE_UNKNOWN', async () => {
      const m = new SystemManager(f.host)
      expect(await m.imageId({kind: 'registry', ref: f.ref})).toMatch(/^sha256:[0-9a-f]{64}$/)
      await expect(m.imageId({kind: 'registry', ref: f.missingRef})).rejects.toMatchObject({code: 'IMAGE_UNKNOWN'})
    })

    it('copies revisions into the OCI store under <name>-r<n>; a missing image fails and adds nothing', async () => {
      const store = new RevisionStore(f.host)
      expect(await store.images(name)).toEqual(new Set())
      await fetchImage(f.host, name, 1, {kind: 'registry', ref: f.ref})
      await fetchImage(f.host, name, 2, {kind: 'registry', ref: f.ref})
      await expect(fetchImage(f.host, name, 3, {kind: 'registry', ref: f.missingRef})).rejects.toMatchObject({code: 'COMMAND_FAILED'})
      expect(await store.images(name)).toEqual(new Set([1, 2]))
    })

    it('unpacks a stored revision into a slot with its runtime config; a revision not stored fails', async () => {
      const config = JSON.parse(await unpackNew(f.host, name, 0, 1, needs))
      expect(config.process.args).toEqual(needs.args)
      expect(config.process.env).toContain('CONTRACT=1')
      expect(JSON.parse((await f.host.readFile(`${bundleDir(name, 0)}/config.json`)).toString('utf8')).process.args).toEqual(needs.args)
      await expect(unpackNew(f.host, name, 1, 9, needs)).rejects.toMatchObject({code: 'COMMAND_FAILED'})
      const info = {name, revision: 2, slot: 0, image: f.ref, imageId: 'sha256:x', specHash: 'h', installedAt: new Date(0).toISOString()}
      const back = await unpackRecorded(f.host, {info, unit: renderSystemUnit({name, description: 'contract', revision: 2, slot: 0, bundle: bundleDir(name, 0), dataDirs: []}), config: '{"restored":true}\n'}, 1)
      expect(back.slot).toBe(1)
      expect((await f.host.readFile(`${bundleDir(name, 1)}/config.json`)).toString('utf8')).toBe('{"restored":true}\n')
      const unit = (await f.host.readFile(`${systemDir(name)}/slot-1/unit`)).toString('utf8')
      expect(unit).toContain(`--bundle ${bundleDir(name, 1)} `)
      expect(unit).not.toContain(bundleDir(name, 0))
    })

    it('flips `current` between slots atomically and reads it back', async () => {
      const slots = new SlotStore(f.host)
      expect((await f.host.exec(['readlink', currentLink(name)])).exitCode).not.toBe(0)
      await slots.flip(name, 0)
      expect((await f.host.exec(['readlink', currentLink(name)])).stdout.trim()).toBe('slot-0')
      await slots.flip(name, 1)
      expect((await f.host.exec(['readlink', currentLink(name)])).stdout.trim()).toBe('slot-1')
    })

    it('prune removes the dropped revisions from the store and gc keeps the rest readable', async () => {
      const store = new RevisionStore(f.host)
      const at = new Date(0).toISOString()
      const removed = await store.prune(name, {current: {name, revision: 2, slot: 1, image: f.ref, imageId: 'x', specHash: 'h', installedAt: at}, history: []}, 0)
      expect(removed).toEqual([1])
      expect(await store.images(name)).toEqual(new Set([2]))
      await unpackNew(f.host, name, 0, 2, needs)
      await store.removeImages(name)
      expect(await store.images(name)).toEqual(new Set())
    })

    it('a restarted unit is active as systemctl show reports it', async () => {
      await f.host.writeFileAtomic(unitPath(name), `[Service]\nExecStart=/bin/sleep 3600\n`)
      await f.host.run(['systemctl', 'daemon-reload'])
      await f.host.run(['systemctl', 'restart', `osctl-${name}.service`])
      expect(await unitState(f.host, `osctl-${name}.service`)).toMatchObject({ActiveState: 'active', NRestarts: '0'})
    })
  })
}
