import {execa} from 'execa'
import {X509Certificate} from 'node:crypto'
import {mkdir, readFile, readdir, rename, rm, stat, unlink, writeFile} from 'node:fs/promises'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {connect, createServer} from 'node:tls'
import {afterEach, describe, expect, it} from 'vitest'

import {ensureCertificates} from '../../../src/certificates/site-certificates.js'
import {canonicalIp, parseSans, wantedSans} from '../../../src/certificates/sans.js'
import {OsctlError} from '../../../src/errors.js'
import {loadSite} from '../../../src/site/load-site.js'
import {selectHosts} from '../../../src/site/select-hosts.js'
import {makeSite} from '../../fixtures/sites/make-site.js'
import {runCli} from '../../helpers/cli.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

/** The valid fixture site (lab-1 10.213.0.2, lab-2 10.213.0.3, lab-3 lab-3.example.org) in a temp dir. */
async function newSite(): Promise<string> {
  const dir = await makeSite()
  dirs.push(dir)
  return dir
}

async function run(dir: string, opts: {limit?: string; renew?: boolean; now?: Date} = {}) {
  const site = await loadSite(dir, {passwords: 'ignore'})
  return ensureCertificates(site, selectHosts(site, opts.limit), opts)
}

const mode = async (file: string) => (await stat(file)).mode & 0o777
const cert = (dir: string, host: string) => join(dir, 'certificates', 'hosts', `${host}.crt`)
const key = (dir: string, host: string) => join(dir, 'certificates', 'hosts', `${host}.key`)
const caCert = (dir: string) => join(dir, 'certificates', 'ca', 'ca.crt')
const caKey = (dir: string) => join(dir, 'certificates', 'ca', 'ca.key')

/** Every file under SITE/certificates with its bytes, to prove a run changed nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const sub of ['ca', 'hosts']) {
    for (const f of await readdir(join(dir, 'certificates', sub))) out[`${sub}/${f}`] = await readFile(join(dir, 'certificates', sub, f), 'utf8')
  }
  return out
}

async function verify(dir: string, host: string): Promise<string> {
  const r = await execa('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', caCert(dir), cert(dir, host)], {reject: false})
  return `${r.stdout}${r.stderr}`.trim()
}

describe('osctl certificates: the site CA and host certificates', () => {
  it('creates the CA and a certificate per host with private modes, that openssl verifies and that name the host', async () => {
    const dir = await newSite()
    const r = await run(dir)
    expect(r.ca.status).toBe('created')
    expect(r.hosts.map((h) => [h.host, h.status])).toEqual([['lab-1', 'created'], ['lab-2', 'created'], ['lab-3', 'created']])
    expect(r.files).toHaveLength(8)
    expect(await mode(join(dir, 'certificates', 'ca'))).toBe(0o700)
    expect(await mode(join(dir, 'certificates', 'hosts'))).toBe(0o700)
    expect(await mode(caCert(dir))).toBe(0o644)
    expect(await mode(caKey(dir))).toBe(0o600)
    for (const host of ['lab-1', 'lab-2', 'lab-3']) {
      expect(await mode(cert(dir, host))).toBe(0o644)
      expect(await mode(key(dir, host))).toBe(0o600)
      expect(await verify(dir, host)).toBe(`${cert(dir, host)}: OK`)
    }
    // Nothing else is left in the site's certificates dir (no work dir, no temp files).
    expect((await readdir(join(dir, 'certificates'))).sort()).toEqual(['ca', 'hosts'])

    const text = (await execa('openssl', ['x509', '-in', cert(dir, 'lab-2'), '-noout', '-text'])).stdout
    expect(text).toMatch(/DNS:lab-2, DNS:localhost, IP Address:10\.213\.0\.3, IP Address:127\.0\.0\.1/)
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/)
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication/)
    expect(text).toMatch(/ecdsa-with-SHA256/)
    expect(new X509Certificate(await readFile(cert(dir, 'lab-3'))).subjectAltName).toBe('DNS:lab-3, DNS:lab-3.example.org, DNS:localhost, IP Address:127.0.0.1')
    const ca = new X509Certificate(await readFile(caCert(dir)))
    expect(ca.ca).toBe(true)
    const years = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365.25 * 86_400_000)
    expect(Math.round(years)).toBe(10)
    const host = new X509Certificate(await readFile(cert(dir, 'lab-1')))
    expect((Date.parse(host.validTo) - Date.parse(host.validFrom)) / 86_400_000).toBe(825)
  })

  it('a TLS client that trusts ca.crt accepts a host certificate for localhost and 127.0.0.1', async () => {
    const dir = await newSite()
    await run(dir, {limit: 'lab-1'})
    const server = createServer({cert: await readFile(cert(dir, 'lab-1')), key: await readFile(key(dir, 'lab-1'))}, (s) => s.end('ok'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    const ca = await readFile(caCert(dir))
    try {
      for (const servername of ['localhost', undefined]) {
        const reply = await new Promise<string>((resolve, reject) => {
          // No servername: Node checks the certificate against the IP it connected to.
          const socket = connect({host: '127.0.0.1', port, ca, ...(servername ? {servername} : {})}, () => socket.once('data', (d) => resolve(String(d))))
          socket.on('error', reject)
        })
        expect(reply).toBe('ok')
      }
    } finally {
      server.close()
    }
  })

  it('a second run keeps every file byte for byte and says so', async () => {
    const dir = await newSite()
    await run(dir)
    const before = await snapshot(dir)
    const r = await run(dir)
    expect(r.ca.status).toBe('kept')
    expect(r.files.map((f) => f.status)).toEqual(Array(8).fill('kept'))
    expect(r.hosts.every((h) => h.reason === undefined)).toBe(true)
    expect(await snapshot(dir)).toEqual(before)
  })

  it('re-issues the certificate of a host whose address changed, gives a new host one, and keeps the rest', async () => {
    const dir = await newSite()
    await run(dir)
    const before = await snapshot(dir)
    const inventory = await readFile(join(dir, 'inventory.yml'), 'utf8')
    await writeFile(join(dir, 'inventory.yml'), inventory.replace('10.213.0.3', 'fd00::23').replace('groups:', '  cmp-9:\n    address: 10.213.0.9\ngroups:').replace('[lab-2, lab-3]', '[lab-2, lab-3, cmp-9]'))
    const r = await run(dir)
    expect(r.hosts.map((h) => [h.host, h.status])).toEqual([['lab-1', 'kept'], ['lab-2', 'renewed'], ['lab-3', 'kept'], ['cmp-9', 'created']])
    expect(r.hosts[1].reason).toContain('differ from the inventory')
    const after = await snapshot(dir)
    for (const f of ['ca/ca.crt', 'ca/ca.key', 'hosts/lab-1.crt', 'hosts/lab-1.key', 'hosts/lab-3.crt']) expect(after[f], f).toBe(before[f])
    expect(after['hosts/lab-2.key']).not.toBe(before['hosts/lab-2.key'])
    expect(new X509Certificate(after['hosts/lab-2.crt']).subjectAltName).toBe('DNS:lab-2, DNS:localhost, IP Address:127.0.0.1, IP Address:FD00:0:0:0:0:0:0:23')
    expect(await verify(dir, 'lab-2')).toMatch(/: OK$/)
    expect(await verify(dir, 'cmp-9')).toMatch(/: OK$/)
    // The IPv6 address in its canonical form matches the inventory's next time.
    expect((await run(dir)).hosts.map((h) => h.status)).toEqual(['kept', 'kept', 'kept', 'kept'])
  })

  it('--renew re-issues the selected hosts (never the CA); --limit leaves the others alone', async () => {
    const dir = await newSite()
    await run(dir, {limit: 'lab-1,lab-2'})
    await expect(stat(cert(dir, 'lab-3'))).rejects.toThrow(/ENOENT/)
    const before = await snapshot(dir)
    const r = await run(dir, {renew: true, limit: 'lab-2'})
    expect(r.hosts.map((h) => [h.host, h.status, h.reason])).toEqual([['lab-2', 'renewed', '--renew']])
    const after = await snapshot(dir)
    expect(after['ca/ca.crt']).toBe(before['ca/ca.crt'])
    expect(after['ca/ca.key']).toBe(before['ca/ca.key'])
    expect(after['hosts/lab-1.crt']).toBe(before['hosts/lab-1.crt'])
    expect(after['hosts/lab-2.crt']).not.toBe(before['hosts/lab-2.crt'])
    expect(after['hosts/lab-2.key']).not.toBe(before['hosts/lab-2.key'])
    expect(await verify(dir, 'lab-2')).toMatch(/: OK$/)
  })

  it('re-issues a certificate that expires within 30 days, one missing its key, and all of them under a new CA', async () => {
    const dir = await newSite()
    await run(dir)
    const soon = await run(dir, {now: new Date(Date.now() + 800 * 86_400_000)})
    expect(soon.hosts.map((h) => h.status)).toEqual(['renewed', 'renewed', 'renewed'])
    expect(soon.hosts[0].reason).toMatch(/expires on .* \(within 30 days\)/)
    expect(soon.ca.status).toBe('kept')

    await unlink(key(dir, 'lab-1'))
    expect((await run(dir)).hosts.map((h) => [h.status, h.reason])).toEqual([['renewed', 'the key is missing'], ['kept', undefined], ['kept', undefined]])

    await rename(join(dir, 'certificates', 'ca'), join(dir, 'old-ca'))
    const fresh = await run(dir)
    expect(fresh.ca.status).toBe('created')
    expect(fresh.hosts.map((h) => [h.status, h.reason])).toEqual(Array(3).fill(['renewed', 'not issued by the site CA']))
    for (const host of ['lab-1', 'lab-2', 'lab-3']) expect(await verify(dir, host)).toMatch(/: OK$/)
  })

  it('ca.crt without ca.key (or the other way round) is exit 2 naming the missing file, and nothing is written', async () => {
    const dir = await newSite()
    await run(dir, {limit: 'lab-1'})
    await unlink(caKey(dir))
    const before = await snapshot(dir)
    const err = (await run(dir).catch((e: unknown) => e)) as OsctlError
    expect(err).toBeInstanceOf(OsctlError)
    expect(err.exitCode).toBe(2)
    expect(err.location).toBe(caKey(dir))
    expect(err.message).toContain(caKey(dir))
    expect(await snapshot(dir)).toEqual(before)
    expect(await readdir(join(dir, 'certificates'))).toEqual(expect.not.arrayContaining([expect.stringMatching(/^\.work/)]))

    const other = await newSite()
    await mkdir(join(other, 'certificates', 'ca'), {recursive: true})
    await writeFile(caKey(other), 'not a key', {mode: 0o600})
    const err2 = (await run(other).catch((e: unknown) => e)) as OsctlError
    expect([err2.exitCode, err2.location]).toEqual([2, caCert(other)])
    expect(await readdir(join(other, 'certificates'))).toEqual(['ca'])
  })

  it('SANs compare in canonical form (IPv6, case, trailing dot)', () => {
    expect(canonicalIp('FD00::0023')).toBe('fd00:0:0:0:0:0:0:23')
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('0:0:0:0:0:ffff:a00:1')
    expect(parseSans('DNS:Lab-1, IP Address:FD00:0:0:0:0:0:0:23, email:x@y')).toEqual({dns: ['email:x@y', 'lab-1'], ip: ['fd00:0:0:0:0:0:0:23']})
    expect(wantedSans({name: 'cmp-1', address: 'Cmp-1.Example.org.', ssh: {user: 'root', port: 22}, groups: []})).toEqual({dns: ['cmp-1', 'cmp-1.example.org', 'localhost'], ip: ['127.0.0.1']})
  })
})

describe('osctl certificates (the CLI)', () => {
  it('--json reports every file; a missing ca.key is exit 2 naming it', async () => {
    const dir = await newSite()
    const first = await runCli(['certificates', '--site', dir, '--limit', 'lab-1', '--json'])
    expect(first.exitCode, first.stderr).toBe(0)
    const doc = JSON.parse(first.stdout)
    expect(doc).toMatchObject({ok: true, command: 'certificates', exitCode: 0, ca: {status: 'created'}})
    expect(doc.hosts).toEqual([expect.objectContaining({host: 'lab-1', ok: true, changed: true, status: 'created', sans: 'DNS:lab-1, DNS:localhost, IP:10.213.0.2, IP:127.0.0.1'})])
    expect(doc.files.map((f: {status: string}) => f.status)).toEqual(['created', 'created', 'created', 'created'])

    await unlink(caKey(dir))
    const r = await runCli(['certificates', '--site', dir])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain(`${caKey(dir)}: ${caKey(dir)} is missing`)
    expect(r.stderr).toContain('Hint: restore ca.key from a backup')
  })
})
