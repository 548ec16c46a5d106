import {createHash} from 'node:crypto'
import {mkdir, readFile, rename, stat, writeFile} from 'node:fs/promises'
import {isIP} from 'node:net'
import {join} from 'node:path'

import {OsctlError} from '../errors.js'
import {CACHE_DIR} from '../paths.js'
import type {Site} from '../site/types.js'
import {readServingCert} from './check-cert.js'

/** What the registry serves with: the deploy host's certificate and key, and the site CA. */
export interface RegistryTls {
  ca: string
  cert: string
  key: string
  /** A content hash of the three: names the directory they live in on the host. */
  id: string
}

/** Where Docker engines (and skopeo) on a host look for the CA of a registry HOST:PORT. */
export const hostCertDir = (registry: string) => `/etc/docker/certs.d/${registry}`

/** SITE/certificates/ca/ca.crt, written by `osctl certificates`. */
export const siteCaFile = (site: Pick<Site, 'dir'>) => join(site.dir, 'certificates', 'ca', 'ca.crt')

const missing = (site: Site, what: string, detail: string) =>
  new OsctlError('CONFIG_MISSING', `tls.registry is on, but ${what}: ${detail}`, {
    location: site.locate?.('config', ['tls', 'registry']) ?? site.files.config,
    hint: 'Run `osctl certificates` (the site CA and a certificate per host), or set `tls: {registry: false}` in osctl.yml.',
  })

/**
 * The files the registry needs when osctl.yml says `tls: {registry: true}`, read and checked
 * (certificate issued by the site CA, its own key, naming the registry host), else undefined.
 * Sync and local: callers check it before any host is touched.
 */
export function registryTls(site: Site): RegistryTls | undefined {
  if (!site.config.tls?.registry) return undefined
  const deploy = site.hosts.filter((h) => h.groups.includes('deploy'))
  // No single deploy host: deployHost() reports that, with its own hint.
  if (deploy.length !== 1) return undefined
  const dir = join(site.dir, 'certificates')
  const files = {ca: siteCaFile(site), cert: join(dir, 'hosts', `${deploy[0].name}.crt`), key: join(dir, 'hosts', `${deploy[0].name}.key`)}
  const found = readServingCert(files, (what, detail) => missing(site, what, detail))
  const cert = found.x509
  const host = site.config.registry.slice(0, site.config.registry.lastIndexOf(':')).replace(/^\[|\]$/g, '')
  if (!(isIP(host) ? cert.checkIP(host) : cert.checkHost(host))) {
    throw missing(site, `${files.cert} does not name ${host} (registry in osctl.yml)`, `it names ${cert.subjectAltName ?? 'nothing'}`)
  }
  return {ca: found.ca, cert: found.cert, key: found.key, id: found.id}
}

/**
 * A directory holding only the site CA, for skopeo's --dest-cert-dir/--src-cert-dir on this
 * machine. Not SITE/certificates/ca itself: skopeo reads every *.key there as a client key and
 * refuses ca.key without a matching ca.cert. Keyed by content, so a new CA gets a new directory.
 */
export async function localCertDir(caFile: string, cacheDir = CACHE_DIR): Promise<string> {
  const ca = await readFile(caFile)
  const dir = join(cacheDir, 'certs.d', createHash('sha256').update(ca).digest('hex').slice(0, 16))
  const target = join(dir, 'ca.crt')
  if (await stat(target).then(() => true, () => false)) return dir
  await mkdir(dir, {recursive: true})
  const partial = `${target}.${process.pid}.partial`
  await writeFile(partial, ca, {mode: 0o644})
  await rename(partial, target)
  return dir
}

/** The cert dir skopeo on this machine uses for the site registry; undefined while it is plain HTTP. */
export async function siteRegistryCertDir(site: Site): Promise<string | undefined> {
  if (!site.config.tls?.registry) return undefined
  registryTls(site)
  return localCertDir(siteCaFile(site))
}
