import {describe, expect, it} from 'vitest'

import {bootstrap} from '../../../src/bootstrap/bootstrap.js'
import {daemonJson} from '../../../src/bootstrap/docker-engine.js'
import {registrySource} from '../../../src/bootstrap/system-context.js'
import type {RegistryTls} from '../../../src/certificates/registry-tls.js'
import {OsctlError} from '../../../src/errors.js'
import type {ImageResult} from '../../../src/images/build-images.js'
import {pushImages} from '../../../src/images/push-images.js'
import {fetchImage} from '../../../src/system/bundle.js'
import {SystemContext, systemContainer} from '../../../src/system/definitions.js'
import {SystemManager} from '../../../src/system/manager.js'
import {FakeDocker} from '../../fakes/fake-docker.js'
import {FakeSystemdHost} from '../../fakes/fake-systemd-host.js'
import {PASSWORDS, testSite} from '../../fakes/site.js'

// The real definition; a short health deadline so the failing revision is given up quickly.
const registry = {...systemContainer('registry')!, healthTimeoutSeconds: 0.3}
const tls = (id: string): RegistryTls => ({ca: `CA-${id}\n`, cert: `CERT-${id}\n`, key: `KEY-${id}\n`, id})
const plainCtx: SystemContext = {host: 'h1', address: '192.0.2.10', peers: [], passwords: {registry_http_secret: 's'}, registryPort: 4000}
const tlsCtx = (id: string): SystemContext => ({...plainCtx, registryTls: tls(id)})
const src = {kind: 'registry' as const, ref: 'r:4000/osctl/registry:1'}
const CURRENT = '/var/lib/osctl/system/registry/current'

/**
 * A host whose registry serves what its running config.json says: HTTPS when it has the TLS
 * variables, plain HTTP otherwise, nothing when it mounts a certificate dir whose id is in `bad`
 * (the registry exits on a certificate it cannot load). Probes answer like the real ones.
 */
function registryHost(bad: string[] = []) {
  const h = new FakeSystemdHost()
  h.registry.set(src.ref, 'sha256:reg')
  const serving = () => {
    const slot = h.links.get(CURRENT)
    const cfg = slot ? h.text(`/var/lib/osctl/system/registry/${slot}/bundle/config.json`) : undefined
    if (!cfg) return 'down'
    const tlsMount = (JSON.parse(cfg).mounts as Array<{destination: string; source: string}>).find((m) => m.destination === '/etc/docker/registry/tls')
    if (tlsMount && bad.some((id) => h.text(`${tlsMount.source}/registry.crt`) === `CERT-${id}\n`)) return 'down'
    return cfg.includes('REGISTRY_HTTP_TLS_CERTIFICATE') ? 'tls' : 'plain'
  }
  h.on(/^timeout 5 bash -c /, (c) => {
    const s = serving()
    const tlsProbe = c.argv![4].includes('openssl s_client')
    if (s === 'down') return {exitCode: 7}
    if ((s === 'tls') === tlsProbe) return 'HTTP/1.0 200 OK\r\n\r\n{}'
    return tlsProbe ? {exitCode: 1} : 'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.'
  })
  return h
}
const config = (h: FakeSystemdHost) => JSON.parse(h.text(`/var/lib/osctl/system/registry/${h.links.get(CURRENT)}/bundle/config.json`)!)

describe('registry definition with tls.registry', () => {
  it('without TLS: the same env, mounts and health check as before', () => {
    expect(registry.env(plainCtx)).toEqual(['REGISTRY_HTTP_ADDR=0.0.0.0:4000', 'REGISTRY_HTTP_SECRET=s', 'REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/docker-registry'])
    expect(registry.mounts(plainCtx)).toEqual([{source: '/var/lib/osctl/data/registry', destination: '/var/lib/docker-registry'}])
    expect(registry.files!(plainCtx)).toBeUndefined()
    expect(registry.health(plainCtx)).toEqual({url: 'http://127.0.0.1:4000/v2/'})
  })

  it('with TLS: certificate and key as revision-owned files at /etc/docker/registry/tls, an HTTPS health check with the CA', () => {
    const ctx = tlsCtx('aaa')
    expect(registry.env(ctx)).toEqual(expect.arrayContaining(['REGISTRY_HTTP_TLS_CERTIFICATE=/etc/docker/registry/tls/registry.crt', 'REGISTRY_HTTP_TLS_KEY=/etc/docker/registry/tls/registry.key']))
    expect(registry.configDir).toBe('/etc/docker/registry/tls')
    expect(registry.files!(ctx)).toEqual({'registry.crt': 'CERT-aaa\n', 'registry.key': 'KEY-aaa\n'})
    expect(registry.health(ctx)).toEqual({url: 'https://127.0.0.1:4000/v2/', tls: {ca: 'CA-aaa\n'}, orElse: {url: 'http://127.0.0.1:4000/v2/'}})
  })
})

describe('SystemManager with the TLS registry', () => {
  it('turning TLS on is a new revision: files written (key 0600) before it starts, mounted read-only', async () => {
    const h = registryHost()
    const m = new SystemManager(h)
    expect(await m.apply(registry, plainCtx, src)).toMatchObject({status: 'installed', revision: 1})
    expect(await m.apply(registry, tlsCtx('aaa'), src)).toMatchObject({status: 'upgraded', revision: 2})
    const files = '/var/lib/osctl/system/registry/revisions/2/files'
    expect(h.files.get(`${files}/registry.key`)).toMatchObject({mode: 0o600})
    expect(h.files.get(`${files}/registry.crt`)).toMatchObject({mode: 0o644})
    expect(h.text(`${files}/registry.crt`)).toBe('CERT-aaa\n')
    expect(h.ops.indexOf(`write ${files}/registry.key`)).toBeLessThan(h.ops.lastIndexOf('write /etc/systemd/system/osctl-registry.service'))
    expect(config(h).mounts).toContainEqual({destination: '/etc/docker/registry/tls', type: 'bind', source: files, options: ['rbind', 'ro']})
    // Same certificates: nothing restarts.
    const restarts = h.restarts.length
    expect(await m.apply(registry, tlsCtx('aaa'), src)).toMatchObject({status: 'unchanged', revision: 2})
    expect(h.restarts.length).toBe(restarts)
  })

  it('new certificate files restart the registry as a new revision; the old files stay for a rollback', async () => {
    const h = registryHost()
    const m = new SystemManager(h)
    await m.apply(registry, tlsCtx('aaa'), src)
    expect(await m.apply(registry, tlsCtx('bbb'), src)).toMatchObject({status: 'upgraded', revision: 2})
    expect(config(h).process.env).toContain('REGISTRY_HTTP_TLS_KEY=/etc/docker/registry/tls/registry.key')
    expect(h.text('/var/lib/osctl/system/registry/revisions/2/files/registry.key')).toBe('KEY-bbb\n')
    expect(h.text('/var/lib/osctl/system/registry/revisions/1/files/registry.key')).toBe('KEY-aaa\n')
    expect(await m.rollback(registry, tlsCtx('bbb'))).toMatchObject({revision: 1})
    expect(JSON.stringify(config(h).mounts)).toContain('/revisions/1/files')
  })

  it('a registry that does not come up with the new files is rolled back (exit 4), also to a plain-HTTP revision', async () => {
    const h = registryHost(['bad'])
    const m = new SystemManager(h)
    await m.apply(registry, plainCtx, src)
    const err = (await m.apply(registry, tlsCtx('bad'), src).catch((e: unknown) => e)) as OsctlError
    expect(err).toBeInstanceOf(OsctlError)
    expect(err.exitCode).toBe(4)
    expect(err.message).toMatch(/registry revision 2 .*did not become healthy.*rolled back to revision 1/)
    expect(h.links.get(CURRENT)).toBe('slot-0')
    expect(config(h).process.env.some((e: string) => e.startsWith('REGISTRY_HTTP_TLS'))).toBe(false)
    const st = await m.state('registry')
    expect(st.history.map((e) => [e.revision, e.outcome])).toEqual([[1, 'active'], [2, 'rolled-back']])
    expect(st.current?.revision).toBe(1)
  })
})

describe('hosts and engines trust the site CA', () => {
  it('daemon.json lists the registry as insecure only while it speaks plain HTTP', () => {
    expect(daemonJson('10.0.0.11:4000')).toBe(
      '{\n  "insecure-registries": [\n    "10.0.0.11:4000"\n  ],\n  "live-restore": true,\n  "log-driver": "json-file",\n  "log-opts": {\n    "max-size": "50m",\n    "max-file": "3"\n  }\n}\n',
    )
    expect(daemonJson('10.0.0.11:4000', {tls: false})).toBe(daemonJson('10.0.0.11:4000'))
    const withTls = JSON.parse(daemonJson('10.0.0.11:4000', {tls: true}))
    expect(withTls).toEqual({'live-restore': true, 'log-driver': 'json-file', 'log-opts': {'max-size': '50m', 'max-file': '3'}})
  })

  it('hosts pull with the CA from certs.d (skopeo --src-cert-dir), or unverified while plain', async () => {
    const plain = registrySource(testSite(), 'etcd')
    expect(plain).toEqual({kind: 'registry', ref: '10.0.0.11:4000/osctl/etcd:zed'})
    const source = registrySource(testSite({tls: {registry: true, internal: false, external: false}}), 'etcd', 't2')
    expect(source).toEqual({kind: 'registry', ref: '10.0.0.11:4000/osctl/etcd:t2', certDir: '/etc/docker/certs.d/10.0.0.11:4000'})
    const h = new FakeSystemdHost()
    h.registry.set(source.ref, 'sha256:e').set(plain.ref, 'sha256:e')
    await fetchImage(h, 'etcd', 1, source)
    await fetchImage(h, 'etcd', 2, plain)
    const copies = h.calls.filter((c) => c.argv?.[0] === 'skopeo' && c.argv[1] === 'copy').map((c) => c.argv!.slice(2, -2))
    expect(copies).toEqual([['--quiet', '--src-cert-dir', '/etc/docker/certs.d/10.0.0.11:4000'], ['--quiet', '--src-tls-verify=false']])
    await new SystemManager(h).imageId(source)
    expect(h.calls.filter((c) => c.argv?.[1] === 'inspect').at(-1)!.argv).toEqual(['skopeo', 'inspect', '--cert-dir', '/etc/docker/certs.d/10.0.0.11:4000', '--raw', 'docker://10.0.0.11:4000/osctl/etcd:t2'])
  })

  it('image build --push hands the CA dir to the push (skopeo --dest-cert-dir); without it, the push is as before', async () => {
    const docker = new FakeDocker()
    const image = (name: string): ImageResult => ({name, ref: `10.0.0.11:4000/osctl/${name}:zed`, status: 'unchanged', contextHash: 'h', seconds: 0, size: 1, parent: null})
    docker.addImage(image('etcd').ref, {})
    expect(await pushImages(docker, [image('etcd')], '10.0.0.11:4000', {emit: () => undefined}, '/cache/certs.d/abc')).toEqual([])
    expect(await pushImages(docker, [image('etcd')], '10.0.0.11:4000', {emit: () => undefined})).toEqual([])
    expect(docker.calls.filter((c) => c.startsWith('push'))).toEqual(['push 10.0.0.11:4000/osctl/etcd:zed cert-dir=/cache/certs.d/abc', 'push 10.0.0.11:4000/osctl/etcd:zed'])
  })

  it('bootstrap with tls.registry and no certificates refuses (exit 2) before connecting to any host', async () => {
    const site = testSite({tls: {registry: true, internal: false, external: false}}, {...PASSWORDS, etcd_cluster_token: 't', registry_http_secret: 's'})
    let connected = false
    const err = (await bootstrap(site, site.hosts, {
      connect: () => ((connected = true), []),
      localImages: async () => ({}),
      publish: async () => undefined,
      archive: async () => {
        throw new Error('not reached')
      },
    }, {emit: () => undefined}).catch((e: unknown) => e)) as OsctlError
    expect(err).toBeInstanceOf(OsctlError)
    expect(err.exitCode).toBe(2)
    expect(err.message).toBe('tls.registry is on, but /nonexistent/site/certificates/ca/ca.crt is missing: ENOENT')
    expect(err.hint).toContain('Run `osctl certificates`')
    expect(connected).toBe(false)
  })
})
