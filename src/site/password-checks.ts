import {OsctlError} from '../errors.js'
import {nearestName} from './nearest-name.js'
import {requiredSecrets} from './secrets.js'
import type {YamlSource} from './yaml-source.js'

/** Keys compared for typos; a kolla passwords.yml has ~150, a hostile one may have 40 000. */
const CHECKED_KEYS = 500

/**
 * A key osctl does not use, one or two edits away from a secret osctl needs and does not have:
 * a typo (`keystone_admin_pasword`). Reported once, at the misspelt line, instead of as a
 * missing password once per service that needs it. Other unknown keys are left alone: kolla's
 * passwords.yml has many that osctl does not use. Values are never read.
 */
export function misspeltPasswords(src: YamlSource, raw: unknown): OsctlError[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return []
  const present = raw as Record<string, unknown>
  const required = new Set(requiredSecrets())
  const missing = [...required].filter((k) => typeof present[k] !== 'string' || present[k] === '')
  if (missing.length === 0) return []
  const errors: OsctlError[] = []
  let checked = 0
  for (const key of Object.keys(present)) {
    if (required.has(key)) continue
    if (++checked > CHECKED_KEYS) break
    const meant = nearestName(key, missing, 2)
    if (!meant) continue
    errors.push(src.error(`password ${key} is not one osctl uses, and ${meant} is missing: did you mean ${meant}?`, `rename ${key} to ${meant}`, [key], {key: true}))
  }
  return errors
}
