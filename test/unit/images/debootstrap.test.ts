import {describe, expect, it} from 'vitest'

import {rootfsKey, rootfsRef} from '../../../src/images/debootstrap.js'
import {resolveImageVars} from '../../../src/images/image-vars.js'

const SPEC = {suite: 'bookworm', mirror: 'http://deb.debian.org/debian', variant: 'minbase' as const}

describe('rootfs keys', () => {
  it('stay stable for existing specs, so cached tarballs and images are reused', () => {
    expect(rootfsKey(SPEC)).toBe('7eae1558c2c3')
    expect(rootfsKey({...SPEC, slim: false})).toBe('7eae1558c2c3')
  })

  it('differ for a slim rootfs and for a different include order only by content', () => {
    expect(rootfsKey({...SPEC, slim: true})).not.toBe(rootfsKey(SPEC))
    expect(rootfsKey({...SPEC, include: ['a', 'b']})).toBe(rootfsKey({...SPEC, include: ['b', 'a']}))
  })

  it('image builds use a slim minbase rootfs from the site values (defaults without a site)', async () => {
    const {vars, rootfs, source} = await resolveImageVars({siteDir: '/nonexistent/osctl-site', tag: 'x'})
    expect(source).toBe('defaults')
    expect(rootfs).toEqual({...SPEC, slim: true})
    expect(vars.rootfs_image).toBe(rootfsRef(rootfs))
    expect(vars).toMatchObject({registry: 'localhost:4000', namespace: 'osctl', tag: 'x'})
  })
})
