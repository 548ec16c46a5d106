import {isMap, isScalar} from 'yaml'

import {requiredSecrets} from '../site/secrets.js'
import type {YamlSource} from '../site/yaml-source.js'
import type {Mapped, Unmapped} from './map-globals.js'

export interface PasswordsMapping {
  /** The secrets osctl uses, under their (shared) kolla names. Values only ever go to the file. */
  passwords: Record<string, string>
  /** Keys osctl needs that kolla left empty or does not have: `osctl genpwd` fills them. */
  empty: string[]
  mapped: Mapped[]
  unmapped: Unmapped[]
}

/**
 * kolla's passwords.yml → osctl's: the keys osctl uses carry the same names in both (database_password,
 * keystone_admin_password, <service>_database_password, <service>_keystone_password,
 * rabbitmq_password); they are copied. The others are reported, never copied: a site keeps only the
 * secrets it uses. kolla's nested `*_ssh_key` maps (private_key/public_key) are reported apart.
 */
export function mapPasswords(src: YamlSource): PasswordsMapping {
  const out: PasswordsMapping = {passwords: {}, empty: [], mapped: [], unmapped: []}
  const root = src.doc.contents
  const required = new Set(requiredSecrets())
  if (isMap(root)) {
    for (const pair of root.items) {
      if (!isScalar(pair.key)) continue
      const key = String(pair.key.value)
      const location = src.locate([key], {key: true})
      const node = pair.value
      if (isMap(node)) {
        const what = key.endsWith('_ssh_key') ? `an SSH key pair (${node.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '?')).join(', ')})` : 'a mapping'
        out.unmapped.push({location, key, reason: `${what}: osctl uses no SSH keys between services (no live migration yet); hosts are reached with the inventory's ssh_key`})
        continue
      }
      if (!required.has(key)) {
        out.unmapped.push({location, key, reason: 'no service osctl deploys uses it'})
        continue
      }
      const value = isScalar(node) ? node.value : undefined
      if (value === null || value === undefined || value === '') continue // filled by genpwd, reported there
      if (typeof value !== 'string' && typeof value !== 'number') {
        out.unmapped.push({location, key, reason: 'not a string'})
        continue
      }
      out.passwords[key] = String(value)
      out.mapped.push({from: location, key, to: key})
    }
  }
  out.empty = [...required].filter((k) => !(k in out.passwords))
  return out
}
