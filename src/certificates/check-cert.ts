import {X509Certificate, createHash, createPrivateKey} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'

import {OsctlError} from '../errors.js'
import type {SubjectAltNames} from './openssl.js'
import {formatSans, parseSans, sameSans} from './sans.js'

/** A host certificate is issued again this long before it expires. */
export const RENEW_BEFORE_DAYS = 30
const DAY_MS = 86_400_000

/** The site CA as found on disk: both files, matching, still valid. */
export interface SiteCa {
  cert: X509Certificate
  certFile: string
  keyFile: string
}

/** A file's bytes, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * Checks an existing CA pair. One file without the other, a certificate that is not a CA, does
 * not belong to the key or has expired is a usage error: the CA is never replaced by osctl,
 * because every certificate and every client that trusts it would have to change with it.
 */
export function checkCa(files: {certFile: string; keyFile: string; cert?: Buffer; key?: Buffer}, now: Date): SiteCa | undefined {
  const {certFile, keyFile, cert, key} = files
  const aside = 'or move the certificates/ca directory aside to create a new CA (every host certificate is then issued again and clients must trust the new ca.crt)'
  if (!cert && !key) return undefined
  if (!key) throw new OsctlError('CONFIG_INVALID', `${keyFile} is missing (the CA certificate ${certFile} is there without its key)`, {location: keyFile, hint: `restore ca.key from a backup, ${aside}`})
  if (!cert) throw new OsctlError('CONFIG_INVALID', `${certFile} is missing (the CA key ${keyFile} is there without its certificate)`, {location: certFile, hint: `restore ca.crt from a backup, ${aside}`})
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw new OsctlError('CONFIG_INVALID', `${certFile} is not a PEM certificate`, {location: certFile, cause: err, hint: `restore it from a backup, ${aside}`})
  }
  if (!x509.ca) throw new OsctlError('CONFIG_INVALID', `${certFile} is not a CA certificate (basicConstraints CA:TRUE)`, {location: certFile, hint: aside})
  let matches = false
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key))
  } catch {
    throw new OsctlError('CONFIG_INVALID', `${keyFile} is not an unencrypted PEM private key`, {location: keyFile, hint: `restore it from a backup, ${aside}`})
  }
  if (!matches) throw new OsctlError('CONFIG_INVALID', `${certFile} does not belong to the key ${keyFile}`, {location: certFile, hint: `restore the pair from a backup, ${aside}`})
  if (new Date(x509.validTo).getTime() <= now.getTime()) {
    throw new OsctlError('CONFIG_INVALID', `the site CA ${certFile} expired on ${new Date(x509.validTo).toISOString()}`, {location: certFile, hint: `move the certificates/ca directory aside to create a new CA`})
  }
  return {cert: x509, certFile, keyFile}
}

/**
 * Why a host's certificate must be issued again, or undefined when it is fine as it is: both
 * files there, the key its own, issued by the site CA, naming exactly `want`, valid for more
 * than RENEW_BEFORE_DAYS.
 */
export function renewalReason(files: {cert?: Buffer; key?: Buffer}, ca: SiteCa, want: SubjectAltNames, now: Date): string | undefined {
  if (!files.cert && !files.key) return 'new host'
  if (!files.cert) return 'the certificate is missing'
  if (!files.key) return 'the key is missing'
  let cert: X509Certificate
  try {
    cert = new X509Certificate(files.cert)
    if (!cert.checkPrivateKey(createPrivateKey(files.key))) return 'the certificate does not belong to the key'
  } catch {
    return 'the certificate or key cannot be read'
  }
  if (!cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) return 'not issued by the site CA'
  const have = parseSans(cert.subjectAltName)
  if (!sameSans(have, want)) return `its names (${formatSans(have)}) differ from the inventory's (${formatSans(want)})`
  const expires = new Date(cert.validTo)
  if (expires.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) return `it expires on ${expires.toISOString()} (within ${RENEW_BEFORE_DAYS} days)`
  return undefined
}

/** A serving certificate, its key and the site CA as read from disk, checked to belong together. */
export interface ServingCert {
  ca: string
  cert: string
  key: string
  x509: X509Certificate
  /** Content hash of the three files. */
  id: string
}

/**
 * Reads the CA, a certificate and its key (sync: callers check before any host is touched) and
 * checks the certificate was issued by the CA and is the key's. `missing(what, detail)` makes the
 * caller's error (which osctl.yml key, which hint).
 */
export function readServingCert(files: {ca: string; cert: string; key: string}, missing: (what: string, detail: string) => OsctlError): ServingCert {
  const text = {} as Record<'ca' | 'cert' | 'key', string>
  for (const k of ['ca', 'cert', 'key'] as const) {
    try {
      text[k] = readFileSync(files[k], 'utf8')
    } catch (err) {
      throw missing(`${files[k]} is missing`, (err as NodeJS.ErrnoException).code ?? String(err))
    }
  }
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(text.cert)
    const ca = new X509Certificate(text.ca)
    if (!x509.checkIssued(ca) || !x509.verify(ca.publicKey)) throw new Error('not issued by the site CA')
    if (!x509.checkPrivateKey(createPrivateKey(text.key))) throw new Error('it does not belong to its key')
  } catch (err) {
    throw missing(`${files.cert} cannot serve`, (err as Error).message)
  }
  const id = createHash('sha256').update(text.ca).update(text.cert).update(text.key).digest('hex').slice(0, 16)
  return {...text, x509, id}
}
