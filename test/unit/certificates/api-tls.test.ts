import {execa} from 'execa'
import {X509Certificate} from 'node:crypto'
import {cp, readFile, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {contextFor} from '../../../src/bootstrap/system-context.js'
import {registerInKeystone, registrationFromEnv} from '../../../src/apply/keystone-register.js'
import {apiCertFiles, apiTls} from '../../../src/certificates/api-tls.js'
import {ensureCertificates} from '../../../src/certificates/site-certificates.js'
import {CA_CONFIG_FILE} from '../../../src/catalog/ca-file.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {OsctlError} from '../../../src/errors.js'
import {clientConfig} from '../../../src/ops/client-config.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {CONTAINER_CACERT} from '../../../src/site/endpoints.js'
import {loadSite} from '../../../src/site/load-site.js'
import type {Site} from '../../../src/site/types.js'
import {haproxy, haproxyConfig, keepalived, keepalivedConfig} from '../../../src/system/load-balancer.js'
import {FakeKeystone} from '../../fakes/fake-keystone.js'
import {PASSWORDS} from '../../fakes/site.js'
import {makeSite, validFile} from '../../fixtures/sites/make-site.js'

const VIP = '10.213.0.250'
const EXT = '10.213.0.251'
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})

/** The valid fixture site with lab-1 and lab-2 as control hosts, the VIPs and TLS lines given. */
async function tlsSite(extra: string): Promise<string> {
  const inventory = (await validFile('inventory.yml')).replace('control: [lab-1]', 'control: [lab-1, lab-2]')
  const dir = await makeSite({'osctl.yml': `${await validFile('osctl.yml')}${extra}`, 'inventory.yml': inventory})
  dirs.push(dir)
  return dir
}
// The fixture's passwords.yml has a few: the fake site's full set beside them.
const load = async (dir: string) => {
  const site = await loadSite(dir, {passwords: 'ignore'})
  return {...site, passwords: {...PASSWORDS, ...site.passwords}}
}
const failure = async (p: Promise<unknown>) => JSON.stringify(((await p.catch((e: unknown) => e)) as OsctlError).toJSON())

async function render(site: Site) {
  const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['mariadb', 'keystone', 'nova', 'neutron-agents'], targets: site.hosts})
  return (service: string, host: string) => plan.services.find((s) => s.def.name === service)!.rendered.get(host)!.containers
}

describe('TLS on the APIs (tls.internal / tls.external, haproxy on the VIPs)', () => {
  it('osctl.yml: TLS needs internal_vip; without external_vip both parts agree; a VIP is no host address and external_vip is not internal_vip', async () => {
    const noVip = await failure(load(await tlsSite('tls: {internal: true, external: true}\n')))
    expect(noVip).toMatch(/tls.internal is on without internal_vip/)
    // The line after the fixture's last one.
    expect(noVip).toMatch(new RegExp(`osctl\\.yml:${(await validFile('osctl.yml')).split('\n').length}:17`))
    expect(await failure(load(await tlsSite(`internal_vip: ${VIP}\ntls: {internal: true}\n`)))).toMatch(/tls.internal is on but tls.external is not.*set external_vip/)
    expect(await failure(load(await tlsSite(`internal_vip: ${VIP}\nexternal_vip: 10.213.0.3\n`)))).toMatch(/external_vip 10.213.0.3 is the address of host lab-2/)
    expect(await failure(load(await tlsSite(`internal_vip: ${VIP}\nexternal_vip: ${VIP}\n`)))).toMatch(/external_vip is internal_vip/)
    expect(await failure(load(await tlsSite(`external_vip: ${EXT}\n`)))).toMatch(/external_vip is set without internal_vip/)
    // Public-only TLS on its own VIP is fine.
    expect((await load(await tlsSite(`internal_vip: ${VIP}\nexternal_vip: ${EXT}\ntls: {external: true}\n`))).config.tls).toEqual({registry: false, internal: false, external: true})
  })

  it('osctl certificates issues api.crt naming every VIP (key 0600), keeps it, and issues it again when a VIP changes', async () => {
    const dir = await tlsSite(`internal_vip: ${VIP}\nexternal_vip: ${EXT}\n`)
    const first = await ensureCertificates(await load(dir), [])
    expect(first.api).toMatchObject({host: 'api', status: 'created', sans: `IP:${VIP}, IP:${EXT}`})
    const files = apiCertFiles({dir})
    expect((await stat(files.key)).mode & 0o777).toBe(0o600)
    const v = await execa('openssl', ['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'certificates', 'ca', 'ca.crt'), files.cert], {reject: false})
    expect(v.stdout).toContain('OK')
    expect((await ensureCertificates(await load(dir), [])).api?.status).toBe('kept')
    const moved = await tlsSite(`internal_vip: ${VIP}\nexternal_vip: 10.213.0.252\n`)
    await cp(join(dir, 'certificates'), join(moved, 'certificates'), {recursive: true})
    const again = await ensureCertificates(await load(moved), [])
    expect(again.api).toMatchObject({status: 'renewed', sans: `IP:${VIP}, IP:10.213.0.252`})
    expect(new X509Certificate(await readFile(apiCertFiles({dir: moved}).cert)).checkIP('10.213.0.252')).toBe('10.213.0.252')
    // No VIP, no API certificate.
    const plain = await makeSite()
    dirs.push(plain)
    expect((await ensureCertificates(await load(plain), [])).api).toBeUndefined()
  })

  it('without certificates, tls.internal is exit 2 naming osctl.yml and `osctl certificates`; with them haproxy gets the PEM', async () => {
    const dir = await tlsSite(`internal_vip: ${VIP}\ntls: {internal: true, external: true}\n`)
    const before = await load(dir)
    const e = (() => {
      try {
        apiTls(before)
      } catch (err) {
        return err as OsctlError
      }
    })()
    expect(e?.exitCode).toBe(2)
    expect(e?.message).toMatch(/tls.internal is on, but .*certificates\/ca\/ca.crt is missing/)
    expect(JSON.stringify(e?.toJSON())).toMatch(/osctl certificates/)
    await ensureCertificates(before, [])
    const tls = apiTls(await load(dir))!
    expect(tls.pem).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]*-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----[\s\S]*-----END PRIVATE KEY-----\n$/)
    expect(tls.ca).toBe(await readFile(join(dir, 'certificates', 'ca', 'ca.crt'), 'utf8'))
  })

  it('haproxy ends TLS on the VIPs (X-Forwarded-Proto for the APIs, SQL untouched); keepalived holds both VIPs', async () => {
    const dir = await tlsSite(`internal_vip: ${VIP}\nexternal_vip: ${EXT}\ntls: {internal: true, external: false}\n`)
    await ensureCertificates(await load(dir), [])
    const site = await load(dir)
    const ctx = contextFor(site, site.hosts[0], haproxy)
    const cfg = haproxyConfig(ctx)
    expect(cfg).toContain(`listen keystone\n    bind ${VIP}:5000 transparent ssl crt /etc/haproxy/api.key\n    bind ${EXT}:5000 transparent\n`)
    expect(cfg).toContain('    http-request set-header X-Forwarded-Proto https if { ssl_fc }\n')
    expect(cfg).toContain(`listen mariadb\n    bind ${VIP}:3306 transparent\n    bind 127.0.0.1:3306\n    mode tcp\n`)
    expect(cfg.split('listen mariadb')[1].split('listen keystone')[0]).not.toMatch(/ssl|X-Forwarded|10\.213\.0\.251/)
    const files = haproxy.files!(ctx)!
    expect(Object.keys(files)).toEqual(['haproxy.cfg', 'api.key'])
    expect(files['api.key']).toBe(apiTls(site)!.pem)
    expect(keepalivedConfig(contextFor(site, site.hosts[0], keepalived))).toContain(`    virtual_ipaddress {\n        ${VIP}/32 dev eth0\n        ${EXT}/32 dev eth0\n    }\n`)
  })

  it('services reach keystone over https with the site CA (cafile, OS_CACERT); the public endpoints use external_vip; clouds.yaml and admin-openrc carry the CA', async () => {
    const dir = await tlsSite(`internal_vip: ${VIP}\nexternal_vip: ${EXT}\ntls: {internal: true, external: true}\n`)
    await ensureCertificates(await load(dir), [])
    const site = await load(dir)
    const containers = await render(site)
    const novaApi = containers('nova', 'lab-1').find((c) => c.name === 'nova-api')!
    expect(novaApi.files['nova.conf']).toContain(`[keystone_authtoken]\nwww_authenticate_uri = https://${VIP}:5000\nauth_url = https://${VIP}:5000\ncafile = ${CONTAINER_CACERT}\n`)
    expect(novaApi.files['nova.conf']).toContain(`[glance]\nvalid_interfaces = internal\ncafile = ${CONTAINER_CACERT}\n`)
    expect(novaApi.files['nova.conf']).toContain('[oslo_middleware]\nenable_proxy_headers_parsing = true\n')
    expect(novaApi.files['osctl-ca.crt']).toBe(apiTls(site)!.ca)
    expect(JSON.parse(novaApi.files['config.json']).config_files).toContainEqual({source: '/var/lib/osctl/config_files/osctl-ca.crt', dest: CONTAINER_CACERT, optional: false})
    // Its keystone registration is osctl's own (keystone-register.ts), over https with that CA: no one-shot manifest.
    expect(novaApi.files['bootstrap/keystone-register/config.json']).toBeUndefined()
    expect(novaApi.files['bootstrap/db-sync/config.json']).toBeDefined()
    const keystone = containers('keystone', 'lab-1')[0]
    expect(keystone.files['config.json']).not.toContain('osctl-ca.crt')
    expect(containers('mariadb', 'lab-1')[0].files['osctl-ca.crt']).toBeUndefined()
    const metadata = Object.assign({}, ...containers('neutron-agents', 'lab-1').map((c) => c.files)) as Record<string, string>
    expect(metadata['metadata_agent.ini']).toContain(`nova_metadata_protocol = https\nauth_ca_cert = ${CONTAINER_CACERT}\n`)
    const client = clientConfig(site)
    expect(client.authUrl).toBe(`https://${VIP}:5000/v3`)
    expect(client.cloudsYaml).toContain(`    cacert: "${join(dir, 'certificates', 'ca', 'ca.crt')}"\n`)
    expect(client.openrc).toContain(`export OS_CACERT='${join(dir, 'certificates', 'ca', 'ca.crt')}'\n`)
  })

  it("osctl's keystone registration (nova's step) speaks https to the VIP and trusts the site CA, not the system's", async () => {
    const dir = await tlsSite(`internal_vip: ${VIP}\nexternal_vip: ${EXT}\ntls: {internal: true, external: true}\n`)
    await ensureCertificates(await load(dir), [])
    const site = await load(dir)
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['mariadb', 'keystone', 'nova'], targets: site.hosts})
    const nova = plan.services.find((s) => s.def.name === 'nova')!.rendered.get('lab-1')!
    const step = nova.steps.find((s) => s.run === 'keystone-register')!
    const reg = registrationFromEnv(step.env, nova.containers.find((c) => c.name === step.container)!.files[CA_CONFIG_FILE], 'lab-1')
    expect(reg).toMatchObject({authUrl: `https://${VIP}:5000/v3`, url: `https://${VIP}:8774/v2.1`, publicUrl: `https://${EXT}:8774/v2.1`, ca: apiTls(site)!.ca})
    const keystone = new FakeKeystone(site.passwords.keystone_admin_password, apiTls(site)!.pem)
    try {
      const opened: string[] = []
      const open = async (address: string, port: number) => (opened.push(`${address}:${port}`), keystone.connect())
      expect(await registerInKeystone(open, reg, 'lab-1', {pauseMs: 1})).toContain('user nova created')
      expect(opened[0]).toBe(`${VIP}:5000`)
      // The system's trust store does not know the site CA: the certificate is refused (on every connection, whatever token it carries).
      expect(await registerInKeystone(open, {...reg, ca: undefined}, 'lab-1', {pauseMs: 1}).catch((e: Error) => e.message)).toMatch(/keystone registration of nova at https:\/\/10\.213\.0\.250:5000\/v3 failed: (GET|POST) \/v3\/\S+: .*(self[- ]signed|unable to verify|issuer)/i)
    } finally {
      keystone.close()
    }
  })

  it('without TLS nothing names a CA: plain http, no cafile, no oslo_middleware section', async () => {
    const site = await load(await tlsSite(`internal_vip: ${VIP}\n`))
    const containers = await render(site)
    const conf = containers('nova', 'lab-1').find((c) => c.name === 'nova-api')!.files['nova.conf']
    expect(conf).toContain(`auth_url = http://${VIP}:5000\nauth_type`)
    expect(conf).not.toMatch(/cafile|oslo_middleware|osctl-ca/)
    expect(clientConfig(site).cloudsYaml).not.toContain('cacert')
  })
})
