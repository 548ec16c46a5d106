import {describe, expect, it} from 'vitest'

import {kernelCheck, parseListeningPorts} from '../../../src/bootstrap/prechecks.js'
import {httpProbeScript} from '../../../src/hosts/http-probe.js'

describe('parseListeningPorts', () => {
  it('returns only sockets in LISTEN state, IPv4 and IPv6', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:094B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1',
      '   1: 0B00D50A:0016 0100D50A:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1',
      '   0: 00000000000000000000000000000000:0FA0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 3 1',
    ].join('\n')
    expect([...parseListeningPorts(tcp)].sort()).toEqual([2379, 4000])
  })
})

describe('httpProbeScript', () => {
  it('speaks HTTP/1.0 to the URL host, port and path', () => {
    const s = httpProbeScript('http://127.0.0.1:2379/health')
    expect(s).toContain('/dev/tcp/127.0.0.1/2379')
    expect(s).toContain("GET /health HTTP/1.0")
  })
})

describe('kernelCheck', () => {
  it('orders kernel releases as versions, not strings, and refuses what it cannot read', () => {
    expect(kernelCheck('6.1.0-18-amd64').ok).toBe(true)
    expect(kernelCheck('5.10.0-28-cloud-amd64').ok).toBe(true)
    expect(kernelCheck('6.18.44-fc-v1045').ok).toBe(true)
    expect(kernelCheck('5.9.16').ok).toBe(false)
    expect(kernelCheck('4.19.0-25-amd64')).toMatchObject({ok: false, detail: 'kernel 4.19.0-25-amd64 (need 5.10.0 or later)'})
    expect(kernelCheck('').ok).toBe(false)
  })
})
