import {describe, expect, it} from 'vitest'

import {Ledger} from '../../../src/revisions/ledger.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {labHost} from '../../fakes/fake-lab-host.js'

describe('ledger: bootstrap step keys', () => {
  it('keys of steps that end at once (one beside another) are all kept', async () => {
    const ledger = new Ledger(labHost('lab-1', '10.0.0.11', new FakeEngine()))
    await Promise.all([ledger.setBootstrapKey('nova', 'db-sync', 'a'), ledger.setBootstrapKey('nova', 'keystone-register', 'b'), ledger.setBootstrapKey('glance', 'db-sync', 'c')])
    expect(await ledger.bootstrapKeys('nova')).toEqual({'db-sync': 'a', 'keystone-register': 'b'})
    expect(await ledger.bootstrapKeys('glance')).toEqual({'db-sync': 'c'})
    // A later key replaces that step's alone.
    await ledger.setBootstrapKey('nova', 'db-sync', 'a2')
    expect(await ledger.bootstrapKeys('nova')).toEqual({'db-sync': 'a2', 'keystone-register': 'b'})
  })
})
