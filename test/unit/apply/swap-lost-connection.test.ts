import {describe, expect, it} from 'vitest'

import {swapIn} from '../../../src/apply/container-swap.js'
import {OsctlError} from '../../../src/errors.js'
import {FakeHost} from '../../fakes/fake-host.js'

const lost = () => new OsctlError('HOST_UNREACHABLE', 'lost connection to lab-1 (10.0.0.11:22) while running `systemd-run …`: channel closed without an exit status')

/** A host whose SSH session is cut while `systemd-run --wait` runs the swap; the unit goes on for `activeFor` polls. */
function cutHost(activeFor: number, left: string): FakeHost {
  let polls = 0
  return new FakeHost('lab-1', '10.0.0.11')
    .on(/^install /, () => '')
    .on(/^systemd-run /, () => {
      throw lost()
    })
    .on(/^systemctl is-active osctl-swap-keystone-/, () => (polls++ < activeFor ? 'active\n' : {exitCode: 3, stdout: 'inactive\n'}))
    .on(/^sh -c /, () => left)
}

describe('swapIn when the SSH connection is cut mid-swap', () => {
  it('waits over a new connection until the host-side swap unit ended, then goes on when it swapped', async () => {
    const h = cutHost(2, 'true\n')
    await swapIn(h, 'keystone', 'unit text')
    const polls = h.commands.filter((c) => c.startsWith('systemctl is-active osctl-swap-keystone-'))
    expect(polls).toHaveLength(3)
    // Only after the unit ended are the containers looked at; nothing is removed or renamed.
    expect(h.commands.at(-1)).toMatch(/^sh -c .*docker container inspect/)
    expect(h.commands.filter((c) => !c.startsWith('systemd-run ')).some((c) => /docker (rm|rename)/.test(c))).toBe(false)
  })

  it('a swap that did not happen (the next container still there) is a failure', async () => {
    const h = cutHost(0, 'next\ntrue\n').on(/^journalctl /, () => 'no container keystone.next to swap in\n')
    await expect(swapIn(h, 'keystone', 'unit text')).rejects.toThrow(/swapping in the new keystone container failed/)
  })

  it('a host that stays unreachable rethrows the lost connection', async () => {
    const h = cutHost(0, '').on(/^systemctl is-active /, () => {
      throw lost()
    })
    await expect(swapIn(h, 'keystone', 'unit text')).rejects.toMatchObject({code: 'HOST_UNREACHABLE'})
  })

  it('any other failure of systemd-run is not waited for', async () => {
    const h = cutHost(0, '').on(/^systemd-run /, () => {
      throw new OsctlError('TIMEOUT', 'timed out')
    })
    await expect(swapIn(h, 'keystone', 'unit text')).rejects.toMatchObject({code: 'TIMEOUT'})
    expect(h.commands.some((c) => c.startsWith('systemctl is-active'))).toBe(false)
  })
})
