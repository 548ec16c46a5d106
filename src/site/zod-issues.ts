import type {z} from 'zod'

import {OsctlError} from '../errors.js'
import {nearestName} from './nearest-name.js'
import {YamlPath, YamlSource} from './yaml-source.js'

type Issue = z.core.$ZodIssue

/** "did you mean" suggestions per batch of unknown keys. */
const GUESSES = 50

/** What each schema tells the error formatter, so messages speak the file's language. */
export interface SchemaDocs {
  /** By key name: what the value must be (e.g. "an integer between 1 and 65535") and how to fix it. */
  fields: Record<string, {what?: string; hint: string}>
  /** Keys allowed in the mapping at `path`, for "did you mean …?" on unknown keys. */
  knownKeysAt(path: YamlPath): readonly string[]
  /** Hint when a field has none of its own. */
  fallbackHint: string
  /** Values are secrets: messages say what kind of value was found, never the value. */
  secretValues?: boolean
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  int: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
}

/**
 * Turns zod issues into located osctl errors. zod knows the data path; the YamlSource knows
 * where that path sits in the file. Messages are our own because zod's ("expected string,
 * received number") name neither the key nor the fix.
 */
export function zodIssuesToErrors(src: YamlSource, issues: readonly Issue[], docs: SchemaDocs): OsctlError[] {
  const errors: OsctlError[] = []
  const describeValue = docs.secretValues ? describeKind : describePlainValue
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
    const field = fieldName(path)
    const label = path.length > 0 ? path.join('.') : 'the file'
    // A nested key's own doc ('tls.registry') before the doc of a top-level key of that name.
    const doc = docs.fields[path.filter((p) => typeof p === 'string').join('.')] ?? (field ? docs.fields[field] : undefined)
    const hint = doc?.hint ?? docs.fallbackHint
    const input = (issue as {input?: unknown}).input

    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = docs.knownKeysAt(path)
        const list = known.join(', ')
        const where = path.length > 0 ? ` in ${label}` : ''
        // Only the first keys get a "did you mean": a file of 40 000 unknown keys stays fast.
        let guesses = GUESSES
        for (const key of issue.keys) {
          const guess = guesses-- > 0 ? nearestName(key, known) : undefined
          const keyHint = guess ? `did you mean ${guess}? (known keys: ${list})` : `remove it; known keys here: ${list}`
          errors.push(src.error(`unknown key ${key}${where}`, keyHint, [...path, key], {key: true}))
        }
        break
      }
      case 'invalid_type': {
        let message: string
        if (input === undefined) message = `${label} is required`
        else if (input === null) message = `${label} has no value`
        else message = `${label} must be ${doc?.what ?? EXPECTED[issue.expected] ?? issue.expected}, not ${describeValue(input)}`
        errors.push(src.error(message, hint, path))
        break
      }
      case 'invalid_key': {
        const inner = issue.issues[0]?.message ?? issue.message
        errors.push(src.error(`${label}: the name ${describeValue(input)} ${inner}`, hint, path, {key: true}))
        break
      }
      case 'invalid_value': {
        const values = issue.values.map(String)
        const guess = typeof input === 'string' ? nearestName(input, values) : undefined
        errors.push(
          src.error(`${label} must be one of ${values.join(', ')}, not ${describeValue(input)}`, guess ? `did you mean ${guess}?` : hint, path),
        )
        break
      }
      case 'too_small':
      case 'too_big': {
        errors.push(src.error(sizeMessage(issue, label, input, describeValue), hint, path))
        break
      }
      case 'invalid_format':
      case 'custom': {
        errors.push(src.error(`${label} ${issue.message}, not ${describeValue(input)}`, hint, path))
        break
      }
      default:
        errors.push(src.error(`${label}: ${issue.message}`, hint, path))
    }
  }
  return errors
}

/** The key a path ends in; list items are named after their list (enabled_services.2 → enabled_services). */
function fieldName(path: YamlPath): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return path[i] as string
  return undefined
}

function sizeMessage(issue: Extract<Issue, {code: 'too_small' | 'too_big'}>, label: string, input: unknown, describeValue: (v: unknown) => string): string {
  const small = issue.code === 'too_small'
  const bound = small ? (issue as {minimum: unknown}).minimum : (issue as {maximum: unknown}).maximum
  if (issue.origin === 'string' && small && Number(bound) <= 1) return `${label} must not be empty`
  if (issue.origin === 'array' || issue.origin === 'set') return `${label} must have ${small ? 'at least' : 'at most'} ${bound} entries`
  if (issue.origin === 'string') return `${label} must be ${small ? 'at least' : 'at most'} ${bound} characters long`
  return `${label} must be ${small ? 'at least' : 'at most'} ${bound}, not ${describeValue(input)}`
}

/** What kind of value it is, without the value: for secrets. */
export function describeKind(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (typeof value === 'string') return 'a string'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'boolean') return 'true or false'
  return `a ${typeof value}`
}

/** How a YAML value reads to the operator: strings quoted, so `"22"` vs `22` is visible. */
export function describeValue(value: unknown): string {
  return describePlainValue(value)
}

function describePlainValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (typeof value === 'string') return JSON.stringify(value)
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return String(value)
}
