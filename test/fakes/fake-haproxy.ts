import type {FakeCall, FakeHost, FakeReply} from './fake-host.js'

/**
 * Teaches a fake control host haproxy's runtime API, `answer` replying to each call: alone
 * (`runc exec osctl-haproxy socat …`, e.g. show stat) and under balancer.ts's SET_SCRIPT
 * (`sh -c SCRIPT osctl-lb-set MARKER CONTENT|- runc exec …`), whose drain marker the fake keeps in
 * its files as the script does: written before a drain reaches haproxy, removed after a ready
 * haproxy took (a failed runtime call leaves it).
 */
export function fakeHaproxyRuntime(h: FakeHost, answer: (call: FakeCall) => FakeReply | Promise<FakeReply>): FakeHost {
  h.on(/^runc exec osctl-haproxy socat/, (call) => answer(call))
  h.on(/^sh -c [\s\S]* osctl-lb-set /, async (call) => {
    const [, , , , marker, data, ...runtime] = call.argv!
    if (data !== '-') h.setFile(marker, data + '\n', 0o600)
    const reply = await answer({...call, argv: runtime, line: runtime.join(' ')})
    const failed = typeof reply === 'object' && reply !== null && (reply.exitCode ?? 0) !== 0
    if (data === '-' && !failed) await h.remove(marker)
    return reply
  })
  return h
}
