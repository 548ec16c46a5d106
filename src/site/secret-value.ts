import {OsctlError} from '../errors.js'

/** One secret for rendering; a missing one is a bug upstream (assertSecrets runs first), never a default. */
export function secretValue(passwords: Record<string, string>, key: string): string {
  const value = passwords[key]
  if (!value) throw new OsctlError('CONFIG_INVALID', `password ${key} is missing from passwords.yml`, {hint: '`osctl genpwd` generates every missing password'})
  return value
}
