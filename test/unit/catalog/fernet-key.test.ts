import {describe, expect, it} from 'vitest'

import {fernetKey} from '../../../src/catalog/render.js'

describe('fernet_key filter', () => {
  it('derives a Fernet key (32 bytes, URL-safe base64 with padding) from a secret and a name', () => {
    const k = fernetKey('a-site-secret-of-some-length', '0')
    expect(k).toMatch(/^[A-Za-z0-9_-]{43}=$/)
    expect(Buffer.from(k, 'base64url')).toHaveLength(32)
  })

  it('is the same for the same secret and name (every control host alike), different otherwise', () => {
    const s = 'a-site-secret-of-some-length'
    expect(fernetKey(s, '0')).toBe(fernetKey(s, '0'))
    expect(fernetKey(s, '1')).not.toBe(fernetKey(s, '0'))
    expect(fernetKey(`${s}!`, '0')).not.toBe(fernetKey(s, '0'))
  })

  it('refuses a missing or short secret', () => {
    expect(() => fernetKey(undefined, '0')).toThrow(/at least 16 characters/)
    expect(() => fernetKey('short', '0')).toThrow(/at least 16 characters/)
  })
})
