import {describe, expect, it} from 'vitest'

import {pullError, pullFailure} from '../../../src/docker/pull-error.js'
import {OsctlError} from '../../../src/errors.js'
import {pullFailed} from '../../../src/lifecycle/service-upgrade.js'

const REF = '10.213.1.11:4000/osctl/keystone:f1'
// What the engine said on a lab host (captured from real runs).
const REFUSED = '(HTTP code 500) server error - Get "http://10.213.1.11:4000/v2/": dial tcp 10.213.1.11:4000: connect: connection refused '
const FULL = 'write /var/lib/docker/tmp/GetImageBlob4153165220: no space left on device'
const MISSING = '(HTTP code 404) unexpected - manifest unknown: manifest unknown'

describe('pull errors say what failed: the registry, the disk or the way to the host', () => {
  it('classifies what engines say', () => {
    expect(pullFailure(REFUSED)).toBe('registry-unreachable')
    expect(pullFailure('(HTTP code 500) server error - Get "http://r:4000/v2/": dial tcp r:4000: i/o timeout')).toBe('registry-unreachable')
    expect(pullFailure(FULL)).toBe('no-space')
    expect(pullFailure(`failed to register layer: ${FULL}`)).toBe('no-space')
    expect(pullFailure(MISSING)).toBe('missing')
    // The SSH connection to the host (the Docker socket forward) dropped: the host went away.
    expect(pullFailure('aborted')).toBe('engine-lost')
    expect(pullFailure('read ECONNRESET', Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'}))).toBe('engine-lost')
    expect(pullFailure('something else')).toBe('other')
  })

  it('a registry that does not answer is REGISTRY_UNREACHABLE, exit 5, naming the registry and the image', () => {
    const e = pullError('lab-1:/var/run/docker.sock', REF, new Error(REFUSED))
    expect(e.code).toBe('REGISTRY_UNREACHABLE')
    expect(e.exitCode).toBe(5)
    expect(e.message).toBe(`lab-1:/var/run/docker.sock: cannot pull ${REF}: the registry 10.213.1.11:4000 does not answer (${REFUSED.trim()})`)
    expect(e.hint).toContain('osctl system status registry')
  })

  it('a full disk keeps the engine\'s words (no space left on device) and says where to free space; exit 1', () => {
    const e = pullError('lab-1', REF, new Error(FULL))
    expect(e.code).toBe('COMMAND_FAILED')
    expect(e.exitCode).toBe(1)
    expect(e.message).toContain('no space left on device')
    expect(e.message).toContain(REF)
    expect(e.hint).toMatch(/free space under \/var\/lib\/docker.*osctl image prune/)
  })

  it('a missing tag is IMAGE_UNKNOWN (exit 2); a lost host is HOST_UNREACHABLE (exit 5), not a registry problem', () => {
    expect(pullError('lab-1', REF, new Error(MISSING))).toMatchObject({code: 'IMAGE_UNKNOWN', exitCode: 2})
    const lost = pullError('lab-2', REF, new Error('aborted'))
    expect(lost).toMatchObject({code: 'HOST_UNREACHABLE', exitCode: 5})
    expect(lost.message).toBe(`lab-2: lost the connection to the Docker engine while pulling ${REF} (aborted)`)
    expect(lost.hint).not.toMatch(/registry/)
    const typed = new OsctlError('DOCKER_UNAVAILABLE', 'no socket')
    expect(pullError('lab-1', REF, typed)).toBe(typed)
  })

  it('service upgrade: a failed pull keeps its kind, exit code and hint, and lists every target host', () => {
    const e = pullFailed([REF], [
      {host: 'lab-1', ok: false, error: pullError('lab-1', REF, new Error(REFUSED)), durationMs: 1},
      {host: 'lab-2', ok: true, durationMs: 1},
    ])
    expect(e).toMatchObject({code: 'REGISTRY_UNREACHABLE', exitCode: 5})
    expect(e.message).toMatch(new RegExp(`^pulling ${REF} failed on lab-1: lab-1: cannot pull`))
    expect(e.hint).toMatch(/osctl system status registry.*\. Nothing was changed on any host\.$/)
    expect((e.details as {hosts: unknown[]}).hosts).toEqual([
      {host: 'lab-1', ok: false, changed: false, exitCode: 5, error: expect.objectContaining({code: 'REGISTRY_UNREACHABLE'})},
      {host: 'lab-2', ok: true, changed: false, exitCode: 0},
    ])
    const mixed = pullFailed([REF], [
      {host: 'lab-1', ok: false, error: pullError('lab-1', REF, new Error(FULL)), durationMs: 1},
      {host: 'lab-2', ok: false, error: pullError('lab-2', REF, new Error(REFUSED)), durationMs: 1},
    ])
    expect(mixed).toMatchObject({code: 'COMMAND_FAILED', exitCode: 1})
  })
})
