import {rm} from 'node:fs/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {loadSite} from '../../../src/site/load-site.js'
import {selectHosts} from '../../../src/site/select-hosts.js'
import type {Site} from '../../../src/site/types.js'
import {makeSite} from '../../fixtures/sites/make-site.js'

// Fixture: lab-1 (deploy, control), lab-2 and lab-3 (compute).
let site: Site
beforeAll(async () => {
  site = await loadSite(await makeSite())
})
afterAll(async () => {
  await rm(site.dir, {recursive: true, force: true})
})

const names = (limit?: string) => selectHosts(site, limit).map((h) => h.name)

describe('selectHosts', () => {
  it('selects every host when there is no limit', () => {
    expect(names()).toEqual(['lab-1', 'lab-2', 'lab-3'])
  })

  it('expands groups, mixes hosts and groups, keeps inventory order and drops repeats', () => {
    expect(names('compute')).toEqual(['lab-2', 'lab-3'])
    expect(names('lab-3,control')).toEqual(['lab-1', 'lab-3'])
    expect(names(' compute , lab-2 ,,')).toEqual(['lab-2', 'lab-3'])
  })

  it('rejects unknown names as a usage error on --limit, listing valid names and the likely one', () => {
    let err: unknown
    try {
      selectHosts(site, 'lab-1,computer,nope')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(OsctlError)
    const e = err as OsctlError
    expect(e).toMatchObject({code: 'USAGE', location: '--limit', exitCode: 2})
    expect(e.message).toBe('--limit names unknown hosts or groups computer, nope')
    expect(e.hint).toBe('did you mean compute? valid names: hosts lab-1, lab-2, lab-3; groups deploy, control, compute, network')
  })

  it('rejects a limit that names nothing', () => {
    expect(() => selectHosts(site, ' , ')).toThrow(expect.objectContaining({code: 'USAGE', location: '--limit', message: '--limit is empty'}))
  })
})
