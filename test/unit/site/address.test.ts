import {describe, expect, it} from 'vitest'

import {isHostAddress, isHostPort} from '../../../src/site/address.js'
import {nearestName} from '../../../src/site/nearest-name.js'

describe('address checks', () => {
  it.each(['10.213.0.2', 'fd00::2', 'lab-1', 'lab-1.example.org', 'host.'])('accepts %s', (a) => expect(isHostAddress(a)).toBe(true))
  it.each(['10.213.0.256', '1.2.3', '-lab', 'lab_1', 'a..b', '[fd00::2]', '', 'a b'])('rejects %s', (a) => expect(isHostAddress(a)).toBe(false))

  it.each([
    ['10.213.0.2:4000', true],
    ['registry.local:5000', true],
    ['[fd00::2]:4000', true],
    ['10.213.0.2', false],
    ['10.213.0.2:0', false],
    ['10.213.0.2:70000', false],
    ['fd00::2:4000', false],
    ['[lab]:4000', false],
  ])('isHostPort(%s) is %s', (v, ok) => expect(isHostPort(v)).toBe(ok))
})

describe('nearestName', () => {
  it('finds swaps and single edits, not unrelated words', () => {
    expect(nearestName('ssh_prot', ['ssh_user', 'ssh_port', 'ssh_key'])).toBe('ssh_port')
    expect(nearestName('adress', ['address', 'ssh_port'])).toBe('address')
    expect(nearestName('flavour', ['address', 'ssh_port'])).toBeUndefined()
  })
})
