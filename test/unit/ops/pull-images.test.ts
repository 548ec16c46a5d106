import {describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {RecordingReporter} from '../../../src/events/reporters.js'
import {imagesByHost, pullImages} from '../../../src/ops/pull-images.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {LOCK_ROOT} from '../../../src/revisions/host-locks.js'
import {fakeLab, registryRefs} from '../../fakes/fake-lab-host.js'
import {testSite} from '../../fakes/site.js'

const SERVICES = ['mariadb', 'memcached', 'rabbitmq', 'keystone']
const ref = (i: string) => `10.0.0.11:4000/osctl/${i}:zed`

describe('osctl pull', () => {
  const setup = async (services = SERVICES) => {
    const site = testSite()
    const lab = fakeLab(site, registryRefs(SERVICES, ['zed']))
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services, targets: site.hosts})
    const pull = () => pullImages(site, plan, site.hosts, lab.session, new RecordingReporter())
    return {...lab, plan, pull}
  }

  it('every image a deploy would run, on the hosts that would run it, and nothing else', async () => {
    const {plan, pull, engines, hosts} = await setup()
    expect(Object.fromEntries([...imagesByHost(plan)].map(([h, m]) => [h, Object.fromEntries(m)]))).toEqual({
      'lab-1': {[ref('mariadb')]: ['mariadb'], [ref('memcached')]: ['memcached'], [ref('keystone')]: ['keystone'], [ref('rabbitmq')]: ['rabbitmq']},
      'lab-2': {[ref('memcached')]: ['memcached'], [ref('keystone')]: ['keystone']},
    })
    const r = await pull()
    expect(r.map((x) => [x.host, x.ok, x.value!.map((i) => `${i.status} ${i.ref}`)])).toEqual([
      ['lab-1', true, ['pulled ' + ref('mariadb'), 'pulled ' + ref('memcached'), 'pulled ' + ref('keystone'), 'pulled ' + ref('rabbitmq')]],
      ['lab-2', true, ['pulled ' + ref('memcached'), 'pulled ' + ref('keystone')]],
    ])
    for (const e of engines.values()) expect(e.calls.filter((c) => !c.startsWith('inspect ') && !c.startsWith('pull '))).toEqual([])
    // The pull lock was held (so prune could not race) and released; nothing else was written.
    for (const h of hosts.values()) {
      expect(h.ops.filter((o) => !o.includes(LOCK_ROOT))).toEqual([])
      expect([...h.files.keys()].filter((f) => f.startsWith(LOCK_ROOT))).toEqual([])
    }
  })

  it('is idempotent: a second run reports every image present; a re-pushed tag is updated', async () => {
    const {pull, engines} = await setup(['memcached'])
    await pull()
    expect((await pull()).map((x) => x.value!.map((i) => i.status))).toEqual([['present'], ['present']])
    // The registry's tag now names other content on lab-2's next pull: reported as updated.
    const e = engines.get('lab-2')!
    e.pullImage = async (r: string) => {
      const moved = {...(await e.inspectImage(r))!, id: 'sha256:re-pushed'}
      e.images.set(r, moved)
      return moved
    }
    expect((await pull()).map((x) => x.value![0].status)).toEqual(['present', 'updated'])
  })

  it('an image the registry lacks fails that host only; an unreachable host too', async () => {
    const {pull, engines, hosts} = await setup(['memcached'])
    engines.get('lab-1')!.registry.clear()
    hosts.get('lab-2')!.down = true
    const r = await pull()
    expect(r.map((x) => [x.host, x.ok, x.error?.code])).toEqual([['lab-1', false, 'IMAGE_UNKNOWN'], ['lab-2', false, 'HOST_UNREACHABLE']])
    // The lock is released after a failed pull.
    expect([...hosts.get('lab-1')!.files.keys()].filter((f) => f.startsWith(LOCK_ROOT))).toEqual([])
  })
})
