import {execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BootstrapResult} from '../../../src/bootstrap/bootstrap.js'
import {localDocker} from '../../../src/docker/docker-client.js'
import {sshSession} from '../../../src/session/host-session.js'
import {loadSite} from '../../../src/site/load-site.js'
import {systemHostContract} from '../../contracts/system-host-contract.js'
import {runCli} from '../../helpers/cli.js'

// A 3-host lab with host packages pre-installed: etcd forms a real 3-member cluster.
const LAB = `s${process.pid}`
const TAG2 = `u${process.pid}`
const TLS_TAG = `tls${process.pid}`
// Three more images for the retention and `rollback --to` test, each with its own image id.
const KEEP_TAGS = [1, 2, 3].map((i) => `k${i}-${process.pid}`)
const docker = localDocker()

const sh = async (container: string, script: string) => {
  const r = await execa('docker', ['exec', container, 'sh', '-c', script], {reject: false})
  return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
}
const host = (i: number) => `osctl-${LAB}-${i}`
const etcdctl = (i: number, args: string) => sh(host(i), `runc exec osctl-etcd env ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 ${args}`)
/** An image FROM the site's etcd image, pushed to the site registry: same etcd, another image id. */
async function pushDerived(registry: string, tag: string, run: string): Promise<void> {
  const ctx = await mkdtemp(join(tmpdir(), 'osctl-derived-'))
  try {
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${registry}/osctl/etcd:zed\nRUN ${run}\n`)
    await execa('docker', ['build', '-q', '-t', `${registry}/osctl/etcd:${tag}`, ctx])
    await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${registry}/osctl/etcd:${tag}`, `docker://${registry}/osctl/etcd:${tag}`])
  } finally {
    await rm(ctx, {recursive: true, force: true})
  }
}
/**
 * The site's etcd image under new tags, each with a label added to its config: a new image id with
 * the same layers, made and pushed without Docker (only a config and a manifest travel). umoci
 * turns image labels into runtime annotations, so `runc state` shows which one runs.
 */
async function pushRelabelled(registry: string, tags: string[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'osctl-relabel-'))
  const layout = join(dir, 'oci')
  try {
    await execa('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${registry}/osctl/etcd:zed`, `oci:${layout}:zed`])
    for (const tag of tags) {
      await execa('umoci', ['config', '--image', `${layout}:zed`, '--tag', tag, '--config.label', `${MARKER}=${tag}`])
      await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${tag}`, `docker://${registry}/osctl/etcd:${tag}`])
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
const MARKER = 'io.osctl.test.marker'
const runcState = async (i: number) => JSON.parse((await sh(host(i), 'runc state osctl-etcd')).stdout) as {status: string; bundle: string; annotations: Record<string, string>}
const startedAt = async (i: number, unit: string) => (await sh(host(i), `systemctl show -P ExecMainStartTimestampMonotonic ${unit}`)).stdout.trim()

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('osctl bootstrap and system containers (3 lab hosts)', () => {
  let site: string
  let registry: string
  const env = () => ({OSCTL_SITE: site})
  const osctl = (args: string[], timeoutMs = 900_000) => runCli(args, {env: env(), timeoutMs})

  beforeAll(async () => {
    await docker.ping()
    site = await mkdtemp(join(tmpdir(), 'osctl-sys-site-'))
    const up = await runCli(['lab', 'up', '--hosts', '3', '--name', LAB, '--site', site, '--with-packages', '--json'], {timeoutMs: 900_000})
    expect(up.exitCode, up.stderr).toBe(0)
    registry = /registry: (\S+)/.exec(await readFile(join(site, 'osctl.yml'), 'utf8'))![1]
    const boot = await osctl(['bootstrap', '--json'])
    expect(boot.exitCode, boot.stderr + boot.stdout).toBe(0)
  })

  afterAll(async () => {
    await runCli(['lab', 'down', '--name', LAB], {timeoutMs: 300_000})
    for (const tag of [TAG2, 'broken', TLS_TAG]) await docker.removeImage(`${registry}/osctl/etcd:${tag}`, true).catch(() => {})
    if (site) await rm(site, {recursive: true, force: true})
  })

  it('runs a 3-member etcd cluster, the registry, and Docker ordered after them', async () => {
    const health = await etcdctl(1, 'endpoint health --cluster')
    expect(health.exitCode, health.stderr).toBe(0)
    expect((health.stdout + health.stderr).match(/is healthy/g)).toHaveLength(3)
    const v2 = await fetch(`http://${registry}/v2/`)
    expect(v2.status).toBe(200)
    for (const i of [1, 2, 3]) {
      expect((await sh(host(i), 'systemctl is-active docker')).stdout.trim()).toBe('active')
      const after = (await sh(host(i), 'systemctl show -P After docker.service')).stdout
      expect(after).toContain('osctl-etcd.service')
      const runc = (await sh(host(i), 'runc list -q')).stdout.split('\n')
      expect(runc).toContain('osctl-etcd')
    }
    expect((await sh(host(1), 'runc list -q')).stdout.split('\n')).toContain('osctl-registry')
  })

  it('bootstrap again changes and restarts nothing', async () => {
    const before = await Promise.all([1, 2, 3].map(async (i) => [await startedAt(i, 'osctl-etcd'), await startedAt(i, 'docker')]))
    const r = await osctl(['bootstrap', '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout) as BootstrapResult
    expect(result.changed).toBe(false)
    for (const h of result.hosts) {
      expect(h.packagesInstalled).toEqual([])
      expect(h.system.every((s) => s.status === 'unchanged')).toBe(true)
      expect(h.docker).toEqual({configChanged: false, started: false})
    }
    const after = await Promise.all([1, 2, 3].map(async (i) => [await startedAt(i, 'osctl-etcd'), await startedAt(i, 'docker')]))
    expect(after).toEqual(before)
  })

  it('keeps etcd data through an upgrade and a rollback', async () => {
    expect((await etcdctl(1, 'put osctl-test kept')).exitCode).toBe(0)
    const build = await osctl(['image', 'build', 'etcd', '--tag', TAG2, '--push'])
    expect(build.exitCode, build.stderr).toBe(0)
    const up = await osctl(['system', 'upgrade', 'etcd', '--tag', TAG2, '--json'])
    expect(up.exitCode, up.stderr).toBe(0)
    const upgraded = JSON.parse(up.stdout).results as Array<{status: string; image: string}>
    expect(upgraded.map((r) => r.status)).toEqual(['upgraded', 'upgraded', 'upgraded'])
    expect((await sh(host(2), 'cat /proc/$(systemctl show -P MainPID osctl-etcd)/cmdline | tr "\\0" " "')).stdout).toContain('runc')
    expect((await etcdctl(2, 'get osctl-test --print-value-only')).stdout.trim()).toBe('kept')

    const hist = JSON.parse((await osctl(['system', 'history', 'etcd', '--json'])).stdout)
    expect(hist.hosts[0].history.at(-1)).toMatchObject({action: 'upgrade', outcome: 'active', image: `${registry}/osctl/etcd:${TAG2}`})

    const rb = await osctl(['system', 'rollback', 'etcd', '--json'])
    expect(rb.exitCode, rb.stderr).toBe(0)
    expect(JSON.parse(rb.stdout).results.map((r: {image: string}) => r.image)).toEqual(Array(3).fill(`${registry}/osctl/etcd:zed`))
    expect((await sh(host(3), 'readlink /var/lib/osctl/system/etcd/current')).stdout.trim()).toMatch(/^slot-[01]$/)
    expect((await etcdctl(3, 'get osctl-test --print-value-only')).stdout.trim()).toBe('kept')
    const health = await etcdctl(1, 'endpoint health --cluster')
    expect((health.stdout + health.stderr).match(/is healthy/g)).toHaveLength(3)
  })

  it('rolls back automatically (exit 4) when the new image exits immediately', async () => {
    await pushDerived(registry, 'broken', 'ln -sf /bin/false /usr/bin/etcd')
    const before = (await sh(host(1), 'readlink /var/lib/osctl/system/etcd/current')).stdout.trim()
    const r = await osctl(['system', 'upgrade', 'etcd', '--tag', 'broken', '--limit', `${LAB}-1`])
    expect(r.exitCode, r.stderr).toBe(4)
    expect(r.stderr).toMatch(/did not become healthy.*rolled back to revision/)
    expect((await sh(host(1), 'readlink /var/lib/osctl/system/etcd/current')).stdout.trim()).toBe(before)
    expect((await etcdctl(1, 'get osctl-test --print-value-only')).stdout.trim()).toBe('kept')
    const status = JSON.parse((await osctl(['system', 'status', 'etcd', '--json'])).stdout)
    expect(status.healthy).toBe(true)
  })

  it('refuses bad input with a clear error and changes nothing', async () => {
    const unknown = await osctl(['system', 'upgrade', 'etcdx', '--tag', 'zed'])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toContain('unknown system container: etcdx')
    const before = (await sh(host(2), 'cat /var/lib/osctl/system/etcd/history.json')).stdout
    const missing = await osctl(['system', 'upgrade', 'etcd', '--tag', 'no-such-tag'])
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toContain('no-such-tag')
    expect(missing.stderr).toMatch(/Hint: .*image build/)
    expect((await sh(host(2), 'cat /var/lib/osctl/system/etcd/history.json')).stdout).toBe(before)
  })

  it('keeps the revisions before the current one and rolls back to any of them (--to), unpacking from the OCI store', async () => {
    await pushRelabelled(registry, KEEP_TAGS)
    for (const tag of KEEP_TAGS) {
      const up = await osctl(['system', 'upgrade', 'etcd', '--tag', tag, '--json'])
      expect(up.exitCode, up.stderr).toBe(0)
    }
    expect((await runcState(2)).annotations[MARKER]).toBe(KEEP_TAGS[2])

    type Hist = {host: string; current: number; kept: number[]; history: Array<{revision: number; image: string; imageId: string; outcome: string; kept: boolean}>}
    const hist = JSON.parse((await osctl(['system', 'history', 'etcd', '--json'])).stdout).hosts as Hist[]
    expect(hist.map((h) => h.host)).toEqual([1, 2, 3].map((i) => `${LAB}-${i}`))
    for (const [i, h] of hist.entries()) {
      const rev = (tag: string) => h.history.find((e) => e.image.endsWith(`:${tag}`))!.revision
      // Kept: the current revision, the 3 that ran before it (1 ran after TAG2, by the earlier rollback) and both slots.
      const kept = [1, ...KEEP_TAGS.map(rev)]
      expect(h.kept).toEqual(kept)
      expect(h.current).toBe(rev(KEEP_TAGS[2]))
      expect(h.history.filter((e) => e.image.endsWith(`:${TAG2}`)).every((e) => !e.kept)).toBe(true)
      expect(h.history.filter((e) => e.revision === 1).every((e) => e.kept)).toBe(true)
      const tags = (await sh(host(i + 1), 'umoci ls --layout /var/lib/osctl/oci')).stdout.split('\n').filter((t) => t.startsWith('etcd-'))
      expect(tags.sort()).toEqual(kept.map((n) => `etcd-r${n}`).sort())
    }

    // TAG2's image was pruned: refused on every host before any changes.
    const links = await Promise.all([1, 2, 3].map(async (i) => (await sh(host(i), 'readlink /var/lib/osctl/system/etcd/current')).stdout))
    const pruned = await osctl(['system', 'rollback', 'etcd', '--to', '2'])
    expect(pruned.exitCode, pruned.stderr).toBe(2)
    expect(pruned.stderr).toContain('Error: --to: ')
    expect(pruned.stderr).toMatch(/etcd revision 2 is no longer kept: its image was pruned from the OCI store/)
    expect(await Promise.all([1, 2, 3].map(async (i) => (await sh(host(i), 'readlink /var/lib/osctl/system/etcd/current')).stdout))).toEqual(links)

    // Neither slot holds revision 1 any more: it comes back from the OCI store.
    const host2Rev = (tag: string) => hist[1].history.find((e) => e.image.endsWith(`:${tag}`))!.revision
    const slotRevs = (await sh(host(2), 'cat /var/lib/osctl/system/etcd/slot-0/info.json /var/lib/osctl/system/etcd/slot-1/info.json')).stdout
    expect([...slotRevs.matchAll(/"revision": (\d+)/g)].map((m) => Number(m[1])).sort()).toEqual(KEEP_TAGS.slice(1).map(host2Rev))
    const zed = JSON.parse((await execa('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${registry}/osctl/etcd:zed`])).stdout).config.digest as string
    const text = await osctl(['system', 'history', 'etcd', '--limit', `${LAB}-2`])
    expect(text.stdout).toMatch(/REV\s+SLOT\s+ACTION\s+OUTCOME\s+KEPT/)
    expect(text.stdout).toMatch(new RegExp(`^\\s+2\\s+\\d\\s+upgrade\\s+superseded\\s+no\\s`, 'm'))

    // One host first, then all: a host already at revision 1 (a run that stopped halfway) is left alone.
    const one = await osctl(['system', 'rollback', 'etcd', '--to', '1', '--limit', `${LAB}-3`, '--json'])
    expect(one.exitCode, one.stderr).toBe(0)
    const rb = await osctl(['system', 'rollback', 'etcd', '--to', '1', '--json'])
    expect(rb.exitCode, rb.stderr).toBe(0)
    const results = JSON.parse(rb.stdout).results as Array<{revision: number; image: string; status: string}>
    expect(results.map((r) => [r.revision, r.image])).toEqual(Array(3).fill([1, `${registry}/osctl/etcd:zed`]))
    expect(results.map((r) => r.status)).toEqual(['upgraded', 'upgraded', 'unchanged'])
    const again = await osctl(['system', 'rollback', 'etcd', '--to', '1'])
    expect(again.exitCode).toBe(2)
    expect(again.stderr).toMatch(/Error: --to: \S+: etcd already runs revision 1/)
    for (const [i, h] of hist.entries()) {
      // The container runc runs now is revision 1's bundle, rebuilt from revision 1's image.
      const state = await runcState(i + 1)
      expect(state.status).toBe('running')
      expect(state.annotations['io.osctl.revision']).toBe('1')
      expect(state.annotations[MARKER]).toBeUndefined()
      const info = JSON.parse((await sh(host(i + 1), `cat ${state.bundle}/../info.json`)).stdout) as {revision: number; imageId: string}
      const rev1 = h.history.find((e) => e.revision === 1)!
      expect(info).toMatchObject({revision: 1, imageId: rev1.imageId})
      expect(info.imageId).toBe(zed)
      expect(info.imageId).not.toBe(h.history.find((e) => e.image.endsWith(`:${KEEP_TAGS[0]}`))!.imageId)
    }
    expect((await etcdctl(3, 'get osctl-test --print-value-only')).stdout.trim()).toBe('kept')
    const health = await etcdctl(1, 'endpoint health --cluster')
    expect((health.stdout + health.stderr).match(/is healthy/g)).toHaveLength(3)
  })

  it('reports an unreachable host with exit 5 and leaves the others alone', async () => {
    const inv = join(site, 'inventory.yml')
    const original = await readFile(inv, 'utf8')
    try {
      // Nothing listens on port 2222 of a lab host: connection refused, quickly.
      await writeFile(inv, original.replace(/hosts:\n(\s+)(\S+):\n(\s+)address: (\S+)/, `hosts:\n$1$2:\n$3address: $4\n$3ssh_port: 2222`))
      const r = await osctl(['bootstrap', '--limit', `${LAB}-1`, '--json'])
      expect(r.exitCode, r.stdout).toBe(5)
      const doc = JSON.parse(r.stdout) as BootstrapResult
      expect(doc.hosts[0].error?.code).toBe('HOST_UNREACHABLE')
    } finally {
      await writeFile(inv, original)
    }
  })

  it('brings system containers back before Docker after a reboot', async () => {
    await execa('docker', ['restart', host(2)])
    let state = ''
    for (let i = 0; i < 60 && !['running', 'degraded'].includes(state); i++) {
      state = (await sh(host(2), 'systemctl is-system-running --wait')).stdout.trim()
    }
    expect(state).toBe('running')
    const etcd = Number((await sh(host(2), 'systemctl show -P ActiveEnterTimestampMonotonic osctl-etcd')).stdout)
    const dockerStart = Number((await sh(host(2), 'systemctl show -P ActiveEnterTimestampMonotonic docker')).stdout)
    expect(etcd).toBeGreaterThan(0)
    expect(dockerStart).toBeGreaterThan(etcd)
    const health = await etcdctl(2, 'endpoint health')
    expect(health.stdout + health.stderr).toContain('is healthy')
  })

  it('a control host leaves (host remove --drain: member remove before its etcd stops) and comes back (host add + bootstrap --limit: member add before it starts); the others never restart', async () => {
    const name = `${LAB}-3`
    const address = new RegExp(`${name}:\\n\\s+address: (\\S+)`).exec(await readFile(join(site, 'inventory.yml'), 'utf8'))![1]
    const before = await Promise.all([1, 2].map((i) => startedAt(i, 'osctl-etcd')))
    expect((await etcdctl(1, 'put osctl-join written-before')).exitCode).toBe(0)
    const members = async () => (await etcdctl(1, 'member list -w simple')).stdout.split('\n').filter(Boolean).map((l) => l.split(', ').slice(1, 3).join(' ')).sort()
    const removed = await osctl(['host', 'remove', name, '--drain', '--json'])
    expect(removed.exitCode, removed.stdout + removed.stderr.split('\n').slice(-10).join('\n')).toBe(0)
    expect(await members()).toEqual([`started ${LAB}-1`, `started ${LAB}-2`])
    expect((await osctl(['host', 'add', name, '--address', address, '--group', 'control'])).exitCode).toBe(0)
    const boot = await osctl(['bootstrap', '--limit', name, '--json'])
    expect(boot.exitCode, boot.stderr.split('\n').slice(-20).join('\n')).toBe(0)
    expect(await members()).toEqual([1, 2, 3].map((i) => `started ${LAB}-${i}`))
    const health = await etcdctl(1, 'endpoint health --cluster')
    // (etcdctl reports health on stderr)
    expect((health.stdout + health.stderr).match(/is healthy/g), health.stdout + health.stderr).toHaveLength(3)
    expect((await etcdctl(3, 'get osctl-join --print-value-only')).stdout.trim()).toBe('written-before')
    // The members that stayed were neither restarted by the leave nor by the join (their initial-cluster settings changed).
    expect(await Promise.all([1, 2].map((i) => startedAt(i, 'osctl-etcd')))).toEqual(before)
    const again = await osctl(['bootstrap', '--json'])
    expect(again.exitCode, again.stderr).toBe(0)
    expect((JSON.parse(again.stdout) as BootstrapResult).changed).toBe(false)
  })

  systemHostContract('bootstrapped lab host over SSH', async () => {
    const loaded = await loadSite(site)
    const session = sshSession(loaded)
    return {host: session.host(loaded.hosts[0]), ref: `${registry}/osctl/etcd:zed`, missingRef: `${registry}/osctl/etcd:no-such-tag`, close: () => session.close()}
  })

  // Last: the registry speaks TLS from here on.
  it('serves the registry over TLS with the site CA (tls.registry): engines trust it without insecure-registries', async () => {
    const config = join(site, 'osctl.yml')
    await writeFile(config, `${await readFile(config, 'utf8')}tls:\n  registry: true\n`)
    // No certificates yet: refused before any host is touched, naming the file.
    const refused = await osctl(['bootstrap'])
    expect(refused.exitCode, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(join(site, 'certificates', 'ca', 'ca.crt'))
    expect(refused.stderr).toContain('osctl certificates')
    expect((await sh(host(1), 'runc state osctl-registry')).stdout).toContain('"status": "running"')

    expect((await osctl(['certificates'])).exitCode).toBe(0)
    const boot = await osctl(['bootstrap', '--json'])
    expect(boot.exitCode, boot.stderr + boot.stdout).toBe(0)
    const doc = JSON.parse(boot.stdout) as BootstrapResult
    expect(doc.hosts.find((h) => h.host === `${LAB}-1`)!.system.find((s) => s.name === 'registry')!.status).toBe('upgraded')

    const ca = join(site, 'certificates', 'ca', 'ca.crt')
    const code = async (args: string[]) => execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', ...args], {reject: false})
    const https = await code(['--cacert', ca, `https://${registry}/v2/`])
    expect(https.stdout, https.stderr).toBe('200')
    expect((await code([`https://${registry}/v2/`])).exitCode).toBe(60) // not trusted without the site CA
    const plain = await execa('curl', ['-sS', '--max-time', '10', `http://${registry}/v2/`], {reject: false})
    expect(plain.stdout).toContain('HTTP request to an HTTPS server')
    const key = await sh(host(1), 'stat -c %a /var/lib/osctl/system/registry/revisions/*/files/registry.key')
    expect(key.stdout.trim()).toBe('600')

    const siteCa = await readFile(ca, 'utf8')
    for (const i of [1, 2, 3]) {
      const daemon = JSON.parse((await sh(host(i), 'cat /etc/docker/daemon.json')).stdout) as Record<string, unknown>
      expect(daemon['insecure-registries']).toBeUndefined()
      // (execa strips the last newline)
      expect((await sh(host(i), `cat /etc/docker/certs.d/${registry}/ca.crt`)).stdout).toBe(siteCa.trimEnd())
    }
    // This machine pushes with the CA (skopeo --dest-cert-dir), a host's engine pulls with certs.d.
    const build = await osctl(['image', 'build', 'etcd', '--tag', TLS_TAG, '--push'])
    expect(build.exitCode, build.stderr).toBe(0)
    const pull = await sh(host(2), `docker pull -q ${registry}/osctl/etcd:${TLS_TAG}`)
    expect(pull.exitCode, pull.stderr).toBe(0)

    const again = JSON.parse((await osctl(['bootstrap', '--json'])).stdout) as BootstrapResult
    expect(again.changed).toBe(false)
    const status = JSON.parse((await osctl(['system', 'status', 'registry', '--json'])).stdout)
    expect(status.healthy).toBe(true)
  })
})
