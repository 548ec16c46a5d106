import {describe, expect, it} from 'vitest'

import {HostSession} from '../../../src/session/host-session.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {FakeHost} from '../../fakes/fake-host.js'
import {testSite} from '../../fakes/site.js'

describe('HostSession', () => {
  it('opens each host and engine once, hands the engine its host, closes engines then hosts once', async () => {
    const site = testSite()
    const opened: string[] = []
    const closed: string[] = []
    const session = new HostSession({
      host: (h) => {
        opened.push(`host ${h.name}`)
        const fake = new FakeHost(h.name, h.address)
        const close = fake.close.bind(fake)
        fake.close = async () => {
          closed.push(`host ${h.name}`)
          await close()
        }
        return fake
      },
      docker: (h, host) => {
        opened.push(`docker ${h.name} over ${host.name}`)
        return Object.assign(new FakeEngine(), {close: async () => void closed.push(`docker ${h.name}`)})
      },
    })
    const [a, b] = site.hosts
    expect(session.host(a)).toBe(session.host(a))
    expect(session.docker(a)).toBe(session.docker(a))
    expect(session.hostsFor([a, b])[0]).toBe(session.host(a))
    session.docker(b)
    expect(opened).toEqual(['host lab-1', 'docker lab-1 over lab-1', 'host lab-2', 'docker lab-2 over lab-2'])
    await session.close()
    await session.close()
    expect(closed).toEqual(['docker lab-1', 'docker lab-2', 'host lab-1', 'host lab-2'])
    expect(() => session.host(a)).toThrow(/after close/)
  })
})
