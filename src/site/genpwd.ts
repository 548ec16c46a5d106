import {randomBytes} from 'node:crypto'
import {chmod} from 'node:fs/promises'
import {isMap, isScalar} from 'yaml'

import {OsctlError, OsctlErrors} from '../errors.js'
import {misspeltPasswords} from './password-checks.js'
import {PASSWORDS} from './site-files.js'
import {zodIssuesToErrors} from './zod-issues.js'
import {requiredSecrets} from './secrets.js'
import {writeFileAtomicLocal} from './write-atomic.js'
import {YamlSource} from './yaml-source.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const SECRET_LENGTH = 32

/**
 * Fills every missing requiredSecrets() entry of a passwords.yml with a strong random value.
 * Never overwrites a value already there (rotating a live password breaks running services),
 * keeps unknown keys and comments (edited as a YAML Document, not re-serialized data), and
 * writes atomically with mode 0600 so a crash never leaves a truncated secrets file.
 * A syntax error or duplicate key changes nothing and is reported as file:line.
 */
export async function generatePasswords(file: string): Promise<{added: string[]; kept: string[]}> {
  const read = await YamlSource.read(file)
  const existed = read !== undefined
  const src = read ?? new YamlSource(file, '')
  const problems = src.syntaxErrors()
  if (problems.length === 0 && src.doc.contents !== null) {
    const shape = src.mappingError('keystone_admin_password: s3cret')
    if (shape) problems.push(shape)
    else problems.push(...src.duplicateKeyErrors((_p, key) => `password ${key}`), ...acceptedByDeploy(src))
  }
  if (problems.length > 0) throw new OsctlErrors(problems)

  const doc = src.doc
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as typeof doc.contents
  const added: string[] = []
  const kept: string[] = []
  const required = requiredSecrets()
  for (const name of required) {
    const node = doc.get(name, true)
    if (isEmpty(node)) {
      doc.set(name, randomSecret())
      added.push(name)
    } else kept.push(name)
  }
  // Like kolla's genpwd, every other `name:` left empty gets a value too: deploy refuses empty values.
  const others = isMap(doc.contents) ? doc.contents.items.map((p) => (isScalar(p.key) ? String(p.key.value) : undefined)) : []
  for (const name of others) {
    if (name === undefined || required.includes(name) || !isEmpty(doc.get(name, true))) continue
    doc.set(name, randomSecret())
    added.push(name)
  }

  if (added.length > 0) await writeFileAtomicLocal(file, doc.toString(), 0o600)
  // Also tighten an existing file someone created with the default umask.
  else if (existed) await chmod(file, 0o600)
  return {added, kept}
}

/** `name:` with no value (or '') is a placeholder, not a password: genpwd fills it. */
function isEmpty(node: unknown): boolean {
  return node === undefined || node === null || (isScalar(node) && (node.value === null || node.value === ''))
}

/**
 * What deploy would refuse in this file, found before anything is written: a value that is not
 * a string (kolla's `*_ssh_key` maps, numbers), an alias, a misspelt key. Empty values are
 * fine here: they are filled. Never echoes a value.
 */
function acceptedByDeploy(src: YamlSource): OsctlError[] {
  const {value: raw, errors} = src.data()
  if (errors.length > 0) return errors
  const filled = Object.fromEntries(Object.entries((raw ?? {}) as Record<string, unknown>).map(([k, v]) => [k, v === null || v === '' ? 'x' : v]))
  const parsed = PASSWORDS.schema.safeParse(filled, {reportInput: true})
  return [...(parsed.success ? [] : zodIssuesToErrors(src, parsed.error.issues, PASSWORDS.docs)), ...misspeltPasswords(src, raw)]
}

/**
 * Alphanumeric only (not base64url): the value lands in INI files, connection URLs and shell
 * command lines, where `-` at the start or `_`/`/` can mean something. 32 of 62 symbols ≈ 190 bits.
 */
export function randomSecret(): string {
  let out = ''
  while (out.length < SECRET_LENGTH) {
    for (const byte of randomBytes(SECRET_LENGTH * 2)) {
      // Rejection sampling: 248 = 4 × 62, so every symbol is equally likely.
      if (byte < 248 && out.length < SECRET_LENGTH) out += ALPHABET[byte % 62]
    }
  }
  return out
}


