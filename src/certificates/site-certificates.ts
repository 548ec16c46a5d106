import {X509Certificate} from 'node:crypto'
import {chmod, mkdir, mkdtemp, rename, rm, stat} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import type {Site, SiteHost} from '../site/types.js'
import {apiCertFiles, apiVips} from './api-tls.js'
import {SiteCa, checkCa, readIfExists, renewalReason} from './check-cert.js'
import {SubjectAltNames, selfSignCa, signHost, writeNewKey} from './openssl.js'
import {apiSans, formatSans, wantedSans} from './sans.js'

export type CertStatus = 'created' | 'kept' | 'renewed'

/** One file under SITE/certificates and what this run did to it. */
export interface CertFile {
  file: string
  status: CertStatus
  host?: string
}

export interface HostCertificate {
  host: string
  status: CertStatus
  /** Why it was issued (again); absent when kept. */
  reason?: string
  /** `DNS:… , IP:…` as the certificate names them. */
  sans: string
  notAfter: string
  cert: string
  key: string
}

export interface CertificatesResult {
  dir: string
  ca: {cert: string; key: string; status: 'created' | 'kept'; notAfter: string}
  hosts: HostCertificate[]
  /** The API certificate (SITE/certificates/api/api.crt) naming every VIP: issued when the site has internal_vip. */
  api?: HostCertificate
  files: CertFile[]
}

export interface CertificateOptions {
  /** Issue every selected host's certificate again (never the CA's). */
  renew?: boolean
  /** The clock, for expiry decisions (tests look 800 days ahead). */
  now?: Date
}

/**
 * The site CA and a server certificate per host under SITE/certificates (kolla-ansible
 * certificates): ca/ca.crt + ca.key, hosts/<host>.crt + .key, and api/api.crt + .key for the VIPs. Only what is missing or no longer
 * right is written; the CA is created once and never replaced. Local only: no host is asked.
 */
export async function ensureCertificates(site: Site, hosts: SiteHost[], options: CertificateOptions = {}): Promise<CertificatesResult> {
  const now = options.now ?? new Date()
  const dir = join(site.dir, 'certificates')
  const caDir = join(dir, 'ca')
  const hostsDir = join(dir, 'hosts')
  const caFiles = {certFile: join(caDir, 'ca.crt'), keyFile: join(caDir, 'ca.key')}
  // A broken CA is reported before anything is written.
  const existing = checkCa({...caFiles, cert: await readIfExists(caFiles.certFile), key: await readIfExists(caFiles.keyFile)}, now)

  await mkdir(dir, {recursive: true})
  // The work dir is 0700 (mkdtemp) and on the same file system, so every file moves in with a rename.
  const work = await mkdtemp(join(dir, '.work-'))
  try {
    const files: CertFile[] = []
    const ca = existing ?? (await createCa(work, caDir, caFiles, site))
    await privateDir(caDir)
    await privateKeyFile(ca.keyFile)
    const caStatus = existing ? 'kept' : 'created'
    files.push({file: ca.certFile, status: caStatus}, {file: ca.keyFile, status: caStatus})

    await mkdir(hostsDir, {recursive: true})
    await privateDir(hostsDir)
    const issued: HostCertificate[] = []
    for (const host of hosts) {
      const h = await certificate(work, hostsDir, ca, host.name, wantedSans(host), options.renew ?? false, now)
      issued.push(h)
      files.push({file: h.cert, status: h.status, host: host.name}, {file: h.key, status: h.status, host: host.name})
    }
    // haproxy's certificate for the APIs on the VIPs (api-tls.ts), the same on every control host.
    let api: HostCertificate | undefined
    if (apiVips(site).length > 0) {
      const apiDir = dirname(apiCertFiles(site).cert)
      await mkdir(apiDir, {recursive: true})
      await privateDir(apiDir)
      api = await certificate(work, apiDir, ca, 'api', apiSans(apiVips(site)), options.renew ?? false, now)
      files.push({file: api.cert, status: api.status}, {file: api.key, status: api.status})
    }
    return {dir, ca: {cert: ca.certFile, key: ca.keyFile, status: caStatus, notAfter: new Date(ca.cert.validTo).toISOString()}, hosts: issued, ...(api ? {api} : {}), files}
  } finally {
    await rm(work, {recursive: true, force: true})
  }
}

/** A new CA, made in the work dir and moved in as a whole directory: never one file without the other. */
async function createCa(work: string, caDir: string, files: {certFile: string; keyFile: string}, site: Site): Promise<SiteCa> {
  const staged = join(work, 'ca')
  await mkdir(staged, {mode: 0o700})
  const key = join(staged, basename(files.keyFile))
  const cert = join(staged, basename(files.certFile))
  await writeNewKey(key)
  await selfSignCa(work, key, cert, `osctl CA ${basename(site.dir)}`)
  await chmod(cert, 0o644)
  try {
    await rename(staged, caDir) // also over an empty ca/ left behind
  } catch (err) {
    if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err
    // ca/ holds other files of the operator's: move the pair in one by one.
    await rename(cert, files.certFile)
    await rename(key, files.keyFile)
  }
  return {cert: new X509Certificate((await readIfExists(files.certFile))!), ...files}
}

async function certificate(work: string, dir: string, ca: SiteCa, name: string, want: SubjectAltNames, renew: boolean, now: Date): Promise<HostCertificate> {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  const found = {cert: await readIfExists(certFile), key: await readIfExists(keyFile)}
  const reason = renew && (found.cert || found.key) ? '--renew' : renewalReason(found, ca, want, now)
  if (reason === undefined) {
    await privateKeyFile(keyFile)
    const cert = new X509Certificate(found.cert!)
    return {host: name, status: 'kept', sans: formatSans(want), notAfter: new Date(cert.validTo).toISOString(), cert: certFile, key: keyFile}
  }
  const notAfter = await issue(work, ca, name, want, {certFile, keyFile})
  const status = found.cert || found.key ? 'renewed' : 'created'
  return {host: name, status, reason, sans: formatSans(want), notAfter, cert: certFile, key: keyFile}
}

/** A new key and certificate, made in the work dir, then renamed over the old pair (key first). */
async function issue(work: string, ca: SiteCa, name: string, sans: SubjectAltNames, to: {certFile: string; keyFile: string}): Promise<string> {
  const key = join(work, `${name}.key`)
  const cert = join(work, `${name}.crt`)
  await writeNewKey(key)
  await signHost(work, {cert: ca.certFile, key: ca.keyFile}, key, cert, name, sans)
  await chmod(cert, 0o644)
  const notAfter = new Date(new X509Certificate((await readIfExists(cert))!).validTo).toISOString()
  // A crash between the two renames leaves a pair that does not match: the next run issues it again.
  await rename(key, to.keyFile)
  await rename(cert, to.certFile)
  return notAfter
}

/** Key directories are 0700 (mkdir's mode is filtered by the umask, and an existing one may be looser). */
async function privateDir(dir: string): Promise<void> {
  if (((await stat(dir)).mode & 0o777) !== 0o700) await chmod(dir, 0o700)
}

/** A key someone made group- or world-readable is tightened back to 0600. */
async function privateKeyFile(file: string): Promise<void> {
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600)
}
