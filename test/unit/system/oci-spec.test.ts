import {describe, expect, it} from 'vitest'

import {OciSpec, renderSpec} from '../../../src/system/oci-spec.js'

const umociSpec: OciSpec = {
  ociVersion: '1.0.0',
  process: {terminal: true, args: ['/bin/sh'], env: ['PATH=/usr/bin:/bin', 'TERM=xterm', 'FOO=image'], cwd: '/'},
  root: {path: 'rootfs'},
  hostname: 'umoci-default',
  mounts: [
    {destination: '/proc', type: 'proc', source: 'proc'},
    {destination: '/run', type: 'tmpfs', source: 'tmpfs'},
  ],
  annotations: {'org.opencontainers.image.os': 'linux'},
  linux: {namespaces: [{type: 'pid'}, {type: 'network'}, {type: 'ipc'}, {type: 'uts'}, {type: 'mount'}], maskedPaths: ['/proc/kcore']},
}

describe('renderSpec', () => {
  const spec = renderSpec(umociSpec, {
    name: 'etcd',
    revision: 3,
    args: ['/usr/bin/etcd', '--name=a'],
    env: ['FOO=service', 'BAR=1'],
    mounts: [{source: '/var/lib/osctl/data/etcd', destination: '/var/lib/etcd'}],
  })

  it('runs on the host network and hostname, without a terminal', () => {
    expect(spec.linux?.namespaces?.map((n) => n.type)).toEqual(['pid', 'ipc', 'mount'])
    expect(spec.hostname).toBeUndefined()
    expect(spec.process.terminal).toBe(false)
  })

  it('uses the service args and lets service env override the image env', () => {
    expect(spec.process.args).toEqual(['/usr/bin/etcd', '--name=a'])
    expect(spec.process.env).toEqual(['PATH=/usr/bin:/bin', 'TERM=xterm', 'FOO=service', 'BAR=1'])
  })

  it('has a read-only rootfs with writable tmpfs /run and /tmp and the data bind mount', () => {
    expect(spec.root).toEqual({path: 'rootfs', readonly: true})
    const run = spec.mounts!.filter((m) => m.destination === '/run')
    expect(run).toHaveLength(1)
    expect(run[0].options).toContain('nodev')
    expect(spec.mounts!.find((m) => m.destination === '/tmp')?.type).toBe('tmpfs')
    expect(spec.mounts!.find((m) => m.destination === '/var/lib/etcd')).toEqual({
      destination: '/var/lib/etcd',
      type: 'bind',
      source: '/var/lib/osctl/data/etcd',
      options: ['rbind', 'rw'],
    })
  })

  it('keeps the image annotations and labels the revision', () => {
    expect(spec.annotations).toMatchObject({'org.opencontainers.image.os': 'linux', 'io.osctl.system': 'etcd', 'io.osctl.revision': '3'})
    expect((spec.linux as {maskedPaths: string[]}).maskedPaths).toEqual(['/proc/kcore'])
  })

  it('drops the default capability set down to a fixed list', () => {
    const caps = spec.process.capabilities as Record<string, string[]>
    expect(caps.bounding).toContain('CAP_NET_BIND_SERVICE')
    expect(caps.bounding).not.toContain('CAP_SYS_ADMIN')
    expect(caps.ambient).toBeUndefined()
  })
})
