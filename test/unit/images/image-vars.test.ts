import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {resolveImageVars} from '../../../src/images/image-vars.js'
import {REPO_ROOT} from '../../helpers/cli.js'

const VALID = join(REPO_ROOT, 'test', 'fixtures', 'sites', 'valid')

describe('resolveImageVars', () => {
  it("takes values from the site's osctl.yml", async () => {
    const {vars, source} = await resolveImageVars({siteDir: VALID})
    expect(source).toBe('site')
    expect(vars).toMatchObject({registry: '10.213.0.2:4000', namespace: 'osctl', openstack_release: 'zed', base_distro_release: 'bookworm'})
  })

  it('flags override the site', async () => {
    const {vars} = await resolveImageVars({siteDir: VALID, registry: '127.0.0.1:5000', namespace: 'ns', tag: 't9'})
    expect(vars).toMatchObject({registry: '127.0.0.1:5000', namespace: 'ns', tag: 't9'})
  })

  it('uses defaults when the site dir does not exist', async () => {
    const {vars, source} = await resolveImageVars({siteDir: '/nonexistent/site'})
    expect(source).toBe('defaults')
    expect(vars).toMatchObject({registry: 'localhost:4000', namespace: 'osctl', tag: 'zed'})
  })

  it('an existing but invalid site is an error, not silently the defaults', async () => {
    await expect(resolveImageVars({siteDir: join(REPO_ROOT, 'images')})).rejects.toBeInstanceOf(OsctlError)
  })
})
