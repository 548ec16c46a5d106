import {spawnSync} from 'node:child_process'
import {beforeEach, describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {rollbackService} from '../../../src/lifecycle/service-rollback.js'
import {upgradeService} from '../../../src/lifecycle/service-upgrade.js'
import {journalFile} from '../../../src/revisions/journal.js'
import {Ledger} from '../../../src/revisions/ledger.js'
import type {Site} from '../../../src/site/types.js'
import type {FakeEngine} from '../../fakes/fake-engine.js'
import {LabHost, fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

// kill -9 of `service upgrade keystone --tag 2` at each step it takes on the first host, then the
// next command: `service upgrade` again completes the change, `service rollback` returns to where
// the host was. The lab test (deploy.test.ts) kills a real osctl at the swap; these cover the rest.
const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
const OLD = '10.0.0.11:4000/osctl/keystone:zed'
const NEW = '10.0.0.11:4000/osctl/keystone:2'
const JOURNAL = journalFile('keystone')
const deadPid = () => spawnSync('true').pid!
const hang = () => new Promise<never>(() => {})

type EngineMethod = 'pullImage' | 'startContainer' | 'createContainer'
interface KillPoint {
  step: string
  host?: RegExp
  engine?: [EngineMethod, RegExp]
  /** The host-side swap unit runs to its end: it is not osctl's process. */
  swapFirst?: boolean
  /** Whether osctl had journaled the change on the host (it does before the first change). */
  journaled: boolean
}

const POINTS: KillPoint[] = [
  {step: 'pulling the new image', engine: ['pullImage', /keystone:2$/], journaled: false},
  {step: 'taking the database snapshot', host: /^docker exec mariadb mariadb-dump /, journaled: false},
  {step: 'running the db sync with the new image', engine: ['startContainer', /^osctl-bootstrap-keystone-bootstrap$/], journaled: true},
  {step: 'creating the next container', engine: ['createContainer', /^keystone\.next$/], journaled: true},
  {step: 'the host-side swap', host: /^systemd-run .*keystone/, swapFirst: true, journaled: true},
  {step: 'the health gate after the swap', host: /^timeout 5 bash -c .*5000/, journaled: true},
]

describe.each(POINTS)('osctl killed while $step', (point) => {
  let site: Site
  let lab: ReturnType<typeof fakeLab>
  const host = (name = 'lab-1') => lab.hosts.get(name)! as LabHost
  const engine = (name = 'lab-1') => lab.engines.get(name)! as FakeEngine
  const keystone = () => lab.ctx().then((c) => c.catalog.get('keystone')!)
  const opts = {tag: '2', serial: 1, reporter: new RecordingReporter(), verifyImages: async () => {}}

  beforeEach(async () => {
    site = testSite()
    lab = fakeLab(site, [...registryRefs(SERVICES, ['zed']), ...registryRefs(['keystone'], ['2'])], () => '-- dump before the upgrade\n')
    await lab.deploy(SERVICES)
    await killAt(point)
  })

  /** Runs the upgrade until it reaches the point on lab-1, where the process "dies": nothing answers it again, its pid is gone. */
  async function killAt(p: KillPoint): Promise<void> {
    let died!: () => void
    const dead = new Promise<void>((resolve) => (died = resolve))
    if (p.host) {
      host().once(p.host, async (c) => {
        if (p.swapFirst) await host().swap(c)
        died()
        return hang()
      })
    } else {
      const [method, name] = p.engine!
      const e = engine() as unknown as Record<EngineMethod, (arg: unknown) => Promise<unknown>>
      const original = e[method].bind(e)
      let fired = false
      e[method] = (arg: unknown) => {
        const subject = typeof arg === 'string' ? arg : (arg as {name: string}).name
        if (fired || !name.test(subject)) return original(arg)
        fired = true
        died()
        return hang()
      }
    }
    void upgradeService(await lab.ctx(), await keystone(), site.hosts, opts).catch(() => {})
    await dead
    for (const h of lab.hosts.values()) {
      for (const [path, f] of h.files) {
        if (path === JOURNAL || path.startsWith('/var/lib/osctl/locks/')) h.files.set(path, {...f, data: Buffer.from(JSON.stringify({...JSON.parse(f.data.toString()), pid: deadPid()}))})
      }
    }
  }

  const settled = async (image: string) => {
    for (const name of ['lab-1', 'lab-2']) {
      const e = engine(name)
      expect(e.containers.get('keystone')!.image, name).toBe(image)
      expect(e.containers.get('keystone')!.state, name).toBe('running')
      expect([...e.containers.keys()].filter((k) => k.startsWith('keystone')), name).toEqual(['keystone'])
      expect(host(name).files.has(JOURNAL), name).toBe(false)
      const current = await new Ledger(host(name)).current('keystone')
      expect(current?.outcome, name).toBe('active')
      expect(current?.containers[0].image, name).toBe(image)
    }
  }

  it('upgrade run again completes it on every host', async () => {
    await upgradeService(await lab.ctx(), await keystone(), site.hosts, opts)
    await settled(NEW)
  })

  it('rollback returns the host to the revision it ran (or says there is nothing to undo)', async () => {
    expect(host().files.has(JOURNAL)).toBe(point.journaled)
    const r = await rollbackService(await lab.ctx(), await keystone(), site.hosts.slice(0, 1), {force: false, reporter: new RecordingReporter()}).catch((e: unknown) => e)
    if (point.journaled) {
      expect(r).not.toBeInstanceOf(Error)
      expect(engine().containers.get('keystone')!.image).toBe(OLD)
    } else {
      // Killed before anything changed: keystone still runs revision 1, which has nothing before it.
      expect(r).toBeInstanceOf(OsctlError)
      expect((r as OsctlError).exitCode).toBe(2)
    }
    await settled(OLD)
    expect(await new Ledger(host()).currentNumber('keystone')).toBe(1)
  })
})
