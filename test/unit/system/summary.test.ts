import {describe, expect, it} from 'vitest'

import {summarizeHosts} from '../../../src/hosts/summary.js'

describe('summarizeHosts', () => {
  it('maps per-host outcomes to the documented exit codes', () => {
    expect(summarizeHosts([{ok: true}, {ok: true}])).toBe(0)
    expect(summarizeHosts([{ok: true}, {ok: false, error: {code: 'COMMAND_FAILED'}}])).toBe(3)
    expect(summarizeHosts([{ok: false, error: {code: 'COMMAND_FAILED'}}])).toBe(1)
    expect(summarizeHosts([{ok: false, error: {code: 'HOST_UNREACHABLE'}}, {ok: false, error: {code: 'HOST_AUTH'}}])).toBe(5)
    expect(summarizeHosts([{ok: false, error: {code: 'HOST_UNREACHABLE'}}, {ok: false, error: {code: 'INTERNAL'}}])).toBe(1)
  })
})
