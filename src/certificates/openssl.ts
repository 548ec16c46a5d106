import {execa} from 'execa'
import {generateKeyPairSync, randomBytes} from 'node:crypto'
import {open, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {OsctlError} from '../errors.js'

/** What a host certificate names: DNS names and IP addresses (canonical form, see sans.ts). */
export interface SubjectAltNames {
  dns: string[]
  ip: string[]
}

export const CA_DAYS = 3650
export const HOST_DAYS = 825

/**
 * Extensions written to a config of our own (never the system's openssl.cnf, whose defaults vary):
 * a CA that may sign only end-entity certificates, and TLS server certificates with the key usages
 * an ECDSA key has (digitalSignature; keyEncipherment is for RSA key transport). Python's
 * VERIFY_X509_STRICT wants the key identifiers, so both are present.
 */
const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_host]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = @sans
`

/**
 * A new EC P-256 private key (PKCS#8 PEM) in `file`, created 0600: never readable by others, not
 * even for a moment. Node generates it; only certificates need the openssl CLI.
 */
export async function writeNewKey(file: string): Promise<void> {
  const {privateKey} = generateKeyPairSync('ec', {namedCurve: 'P-256', privateKeyEncoding: {type: 'pkcs8', format: 'pem'}, publicKeyEncoding: {type: 'spki', format: 'pem'}})
  const handle = await open(file, 'wx', 0o600)
  try {
    await handle.writeFile(privateKey, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** A self-signed CA certificate for `keyFile` (in the private work dir `work`). */
export async function selfSignCa(work: string, keyFile: string, out: string, commonName: string): Promise<void> {
  const config = await writeConfig(work, 'ca.cnf', CONFIG)
  await openssl(['req', '-new', '-x509', '-config', config, '-extensions', 'v3_ca', '-key', keyFile, '-sha256', '-days', String(CA_DAYS), '-subj', subject(commonName), '-set_serial', serial(), '-out', out])
}

/** A server certificate for `keyFile`, signed by the CA, naming `sans`. */
export async function signHost(work: string, ca: {cert: string; key: string}, keyFile: string, out: string, commonName: string, sans: SubjectAltNames): Promise<void> {
  const lines = [...sans.dns.map((d, i) => `DNS.${i + 1} = ${d}`), ...sans.ip.map((a, i) => `IP.${i + 1} = ${a}`)]
  const config = await writeConfig(work, `${commonName}.cnf`, `${CONFIG}[sans]\n${lines.join('\n')}\n`)
  await openssl([
    'req', '-new', '-x509', '-config', config, '-extensions', 'v3_host', '-CA', ca.cert, '-CAkey', ca.key, '-key', keyFile,
    '-sha256', '-days', String(HOST_DAYS), '-subj', subject(commonName), '-set_serial', serial(), '-out', out,
  ])
}

async function writeConfig(work: string, name: string, text: string): Promise<string> {
  const file = join(work, name)
  await writeFile(file, text, {mode: 0o600})
  return file
}

/** `/CN=…` with the characters openssl's -subj parser treats specially escaped. */
function subject(commonName: string): string {
  return `/CN=${commonName.replace(/[\\/+=]/g, (c) => `\\${c}`)}`
}

/** 159 random bits, positive (RFC 5280: at most 20 octets, unpredictable). */
function serial(): string {
  const bytes = randomBytes(20)
  bytes[0] &= 0x7f
  return `0x${bytes.toString('hex')}`
}

async function openssl(args: string[]): Promise<void> {
  const r = await execa('openssl', args, {reject: false, stdin: 'ignore', timeout: 60_000})
  if ((r as {code?: string}).code === 'ENOENT') {
    throw new OsctlError('COMMAND_FAILED', 'openssl is not installed on this machine', {exitCode: 5, hint: 'apt-get install openssl'})
  }
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `openssl ${args[0]} failed: ${String(r.stderr).trim().split('\n').slice(-3).join(' | ') || `exit ${r.exitCode}`}`, {
      hint: 'osctl needs the openssl 3 CLI (Debian bookworm: apt-get install openssl)',
    })
  }
}
