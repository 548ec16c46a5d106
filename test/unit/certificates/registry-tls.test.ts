import {readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {localCertDir, registryTls} from '../../../src/certificates/registry-tls.js'
import {ensureCertificates} from '../../../src/certificates/site-certificates.js'
import {OsctlError} from '../../../src/errors.js'
import {LocalHost} from '../../../src/hosts/local-host.js'
import {fetchTrusting, registryBaseUrl, registryFetch} from '../../../src/images/registry-http.js'
import {resolveImageVars} from '../../../src/images/image-vars.js'
import {manifestUrl} from '../../../src/site/image-ref.js'
import {loadSite} from '../../../src/site/load-site.js'
import {probe} from '../../../src/system/health.js'
import {makeSite, validFile} from '../../fixtures/sites/make-site.js'

const dirs: string[] = []
const closers: Array<() => void> = []
afterEach(async () => {
  for (const c of closers.splice(0)) c()
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

/** The valid fixture site (deploy host lab-1 at 10.213.0.2, registry 10.213.0.2:4000) with `tls: {registry: on}`. */
async function tlsSite(on = true, extra = ''): Promise<string> {
  const dir = await makeSite({'osctl.yml': `${await validFile('osctl.yml')}tls:\n  registry: ${on}\n${extra}`})
  dirs.push(dir)
  return dir
}
const load = (dir: string) => loadSite(dir, {passwords: 'ignore'})
async function certify(dir: string) {
  const site = await load(dir)
  return ensureCertificates(site, site.hosts)
}

/** An HTTPS server on 127.0.0.1 with lab-1's certificate (it names 127.0.0.1), answering like a registry. */
async function serve(dir: string): Promise<number> {
  const files = join(dir, 'certificates', 'hosts')
  const server = createServer({cert: await readFile(join(files, 'lab-1.crt')), key: await readFile(join(files, 'lab-1.key'))}, (req, res) => {
    // /echo answers with what it got (method, content type, body): the API client's requests.
    if (req.url === '/echo') {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        res.writeHead(201, {'content-type': 'application/json', 'x-subject-token': 'tok'})
        res.end(JSON.stringify({method: req.method, type: req.headers['content-type'], body: Buffer.concat(chunks).toString('base64')}))
      })
      return
    }
    res.writeHead(req.url === '/v2/' ? 200 : 404, {'content-type': 'application/json'})
    res.end('{}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  closers.push(() => server.close())
  return (server.address() as AddressInfo).port
}

describe('tls.registry in osctl.yml', () => {
  it('defaults to off; a mistyped key or a non-boolean is reported at its line with its own hint', async () => {
    expect((await load(dirs[dirs.push(await makeSite()) - 1])).config.tls).toEqual({registry: false, internal: false, external: false})
    expect((await load(await tlsSite())).config.tls).toEqual({registry: true, internal: false, external: false})
    const typo = await makeSite({'osctl.yml': `${await validFile('osctl.yml')}tls:\n  registy: true\n`})
    dirs.push(typo)
    const err = (await load(typo).catch((e: unknown) => e)) as OsctlError
    expect(err.exitCode).toBe(2)
    expect(JSON.stringify(err.toJSON())).toMatch(/unknown key registy in tls.*did you mean registry\?/)
    const wrong = await tlsSite(true)
    await writeFile(join(wrong, 'osctl.yml'), (await readFile(join(wrong, 'osctl.yml'), 'utf8')).replace('registry: true', 'registry: maybe'))
    const err2 = JSON.stringify(((await load(wrong).catch((e: unknown) => e)) as OsctlError).toJSON())
    expect(err2).toContain('tls.registry')
    expect(err2).toContain('serves the site registry over HTTPS')
    expect(err2).not.toContain('HOST:PORT')
  })
})

describe('registryTls (what the registry serves with)', () => {
  it('is undefined while tls.registry is off, even without certificates', async () => {
    expect(registryTls(await load(await tlsSite(false)))).toBeUndefined()
  })

  it('refuses (exit 2) naming the missing file and `osctl certificates` when the certificates are missing', async () => {
    const dir = await tlsSite()
    const site = await load(dir)
    let thrown: unknown
    try {
      registryTls(site)
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(OsctlError)
    expect((thrown as OsctlError).exitCode).toBe(2)
    expect((thrown as OsctlError).message).toContain(join(dir, 'certificates', 'ca', 'ca.crt'))
    expect((thrown as OsctlError).hint).toContain('osctl certificates')
    expect((thrown as OsctlError).location).toMatch(/osctl\.yml:\d+/)
  })

  it("reads the deploy host's certificate, key and the CA; a renewed certificate gets a new id", async () => {
    const dir = await tlsSite()
    await certify(dir)
    const tls = registryTls(await load(dir))!
    expect(tls.ca).toBe(await readFile(join(dir, 'certificates', 'ca', 'ca.crt'), 'utf8'))
    expect(tls.cert).toBe(await readFile(join(dir, 'certificates', 'hosts', 'lab-1.crt'), 'utf8'))
    expect(tls.key).toContain('PRIVATE KEY')
    expect(registryTls(await load(dir))!.id).toBe(tls.id)
    const site = await load(dir)
    await ensureCertificates(site, site.hosts, {renew: true})
    expect(registryTls(await load(dir))!.id).not.toBe(tls.id)
  })

  it('refuses a certificate that does not name the registry host, or that the CA did not issue', async () => {
    const dir = await tlsSite()
    await certify(dir)
    await writeFile(join(dir, 'osctl.yml'), (await readFile(join(dir, 'osctl.yml'), 'utf8')).replace('registry: 10.213.0.2:4000', 'registry: 10.213.0.9:4000'))
    let site = await load(dir)
    expect(() => registryTls(site)).toThrow(/does not name 10\.213\.0\.9/)
    await writeFile(join(dir, 'osctl.yml'), (await readFile(join(dir, 'osctl.yml'), 'utf8')).replace('10.213.0.9:4000', '10.213.0.2:4000'))
    // Another site's CA: the host certificate no longer chains to it.
    const other = await tlsSite()
    await certify(other)
    await writeFile(join(dir, 'certificates', 'ca', 'ca.crt'), await readFile(join(other, 'certificates', 'ca', 'ca.crt')))
    site = await load(dir)
    expect(() => registryTls(site)).toThrow(/not issued by the site CA/)
  })
})

describe('talking TLS to the registry with the site CA', () => {
  it('fetchTrusting (osctl\'s OpenStack API calls under tls.internal) sends string and Blob bodies and returns status, headers and body', async () => {
    const dir = await tlsSite()
    await certify(dir)
    const port = await serve(dir)
    const trusted = fetchTrusting(join(dir, 'certificates', 'ca', 'ca.crt'))
    const post = await trusted(`https://127.0.0.1:${port}/echo`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"auth":1}'})
    expect(post.status).toBe(201)
    expect(post.headers.get('x-subject-token')).toBe('tok')
    expect(await post.json()).toEqual({method: 'POST', type: 'application/json', body: Buffer.from('{"auth":1}').toString('base64')})
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    const put = await trusted(`https://127.0.0.1:${port}/echo`, {method: 'PUT', headers: {'content-type': 'application/octet-stream'}, body: new Blob([bytes])})
    expect(await put.json()).toEqual({method: 'PUT', type: 'application/octet-stream', body: Buffer.from(bytes).toString('base64')})
    // Without the CA, the same server is refused.
    await expect(fetch(`https://127.0.0.1:${port}/echo`, {method: 'POST', body: 'x'})).rejects.toThrow()
  })


  it('registryFetch trusts the site CA (the global fetch does not); URLs say https', async () => {
    const dir = await tlsSite()
    await certify(dir)
    const port = await serve(dir)
    const site = await load(dir)
    const local = {...site, config: {...site.config, registry: `127.0.0.1:${port}`}}
    expect(registryBaseUrl(local)).toBe(`https://127.0.0.1:${port}`)
    expect(manifestUrl(local, 'etcd')).toBe(`https://127.0.0.1:${port}/v2/osctl/etcd/manifests/zed`)
    const ok = await registryFetch(local)(`${registryBaseUrl(local)}/v2/`)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({})
    expect((await registryFetch(local)(`${registryBaseUrl(local)}/v2/x`, {method: 'HEAD'})).status).toBe(404)
    await expect(fetch(`${registryBaseUrl(local)}/v2/`)).rejects.toThrow()
    const off = {...local, config: {...local.config, tls: {registry: false, internal: false, external: false}}}
    expect(registryBaseUrl(off)).toBe(`http://127.0.0.1:${port}`)
    expect(registryFetch(off)).toBe(fetch)
  })

  it('the TLS health probe (openssl s_client) passes with the site CA and fails with another CA', async () => {
    const dir = await tlsSite()
    await certify(dir)
    const port = await serve(dir)
    const host = new LocalHost()
    const ca = join(dir, 'certificates', 'ca', 'ca.crt')
    expect(await probe(host, {url: `https://127.0.0.1:${port}/v2/`, tls: {ca: await readFile(ca, 'utf8')}})).toMatchObject({healthy: true})
    const other = await tlsSite()
    await certify(other)
    const otherCa = await readFile(join(other, 'certificates', 'ca', 'ca.crt'), 'utf8')
    const wrong = await probe(host, {url: `https://127.0.0.1:${port}/v2/`, tls: {ca: otherCa}})
    expect(wrong.healthy).toBe(false)
    // orElse: a plain-HTTP check that also fails keeps the first detail.
    const both = await probe(host, {url: `https://127.0.0.1:${port}/v2/`, tls: {ca: otherCa}, orElse: {url: `http://127.0.0.1:${port}/v2/`}})
    expect(both).toEqual(wrong)
  })

  it('skopeo on this machine gets a directory holding only ca.crt (never ca.key)', async () => {
    const dir = await tlsSite()
    await certify(dir)
    const ca = join(dir, 'certificates', 'ca', 'ca.crt')
    const certDir = await localCertDir(ca, dir)
    expect(certDir.startsWith(join(dir, 'certs.d'))).toBe(true)
    expect(await readFile(join(certDir, 'ca.crt'), 'utf8')).toBe(await readFile(ca, 'utf8'))
    expect(await readdir(certDir)).toEqual(['ca.crt'])
    expect(await localCertDir(ca, dir)).toBe(certDir)
  })

  it('image build --push uses the CA only for the site registry', async () => {
    const dir = await tlsSite()
    expect((await resolveImageVars({siteDir: dir})).registryCa).toBe(join(dir, 'certificates', 'ca', 'ca.crt'))
    expect((await resolveImageVars({siteDir: dir, registry: 'elsewhere:5000'})).registryCa).toBeUndefined()
    expect((await resolveImageVars({siteDir: await tlsSite(false)})).registryCa).toBeUndefined()
  })
})
