import {z} from 'zod'

import {OsctlError} from '../errors.js'
import {configDocs, configSchema} from './config-schema.js'
import {inventoryDocs, inventorySchema} from './inventory-schema.js'
import {YamlPath, YamlSource} from './yaml-source.js'
import {SchemaDocs, zodIssuesToErrors} from './zod-issues.js'

export const MISSING_SITE_HINT = 'run `osctl lab up` to create a lab site, or create it (see README)'

export interface FileSpec<S extends z.ZodType> {
  schema: S
  docs: SchemaDocs
  /** Shown when the file is empty or not a mapping. */
  example: string
  /** Missing file is CONFIG_MISSING (else: validated as an empty mapping). */
  required: boolean
  describeKey?: (parent: YamlPath, key: string) => string
}

export interface LoadedFile<S extends z.ZodType> {
  /** Present when the file parsed as a mapping (cross-checks can read it). */
  src?: YamlSource
  /** The plain data of that mapping, valid or not. */
  raw?: unknown
  /** Present only when the file is also valid: a half-valid file must never reach planning. */
  data?: z.output<S>
}

/** Parses and validates one file, appending problems to `errors`. */
export async function loadFile<S extends z.ZodType>(file: string, spec: FileSpec<S>, errors: OsctlError[]): Promise<LoadedFile<S>> {
  let src: YamlSource | undefined
  try {
    src = await YamlSource.read(file)
  } catch (err) {
    errors.push(err as OsctlError)
    return {}
  }
  if (!src) {
    if (!spec.required) return {data: spec.schema.parse({})}
    errors.push(new OsctlError('CONFIG_MISSING', `${file} does not exist`, {location: file, hint: MISSING_SITE_HINT, details: {missingFile: file}}))
    return {}
  }
  return checkSource(src, spec, errors)
}

/**
 * The checks loadFile runs once a file is read, on a source that may exist only in memory (an
 * inventory.yml about to be written by `osctl host add`): the same rules, the same messages.
 */
export function checkSource<S extends z.ZodType>(src: YamlSource, spec: FileSpec<S>, errors: OsctlError[]): LoadedFile<S> {
  const syntax = src.syntaxErrors()
  if (syntax.length > 0) {
    // After a syntax error the tree is a guess; validating it would report phantom problems.
    errors.push(...syntax)
    return {}
  }
  if (!spec.required && src.doc.contents === null) return {data: spec.schema.parse({})}
  const shape = src.mappingError(spec.example)
  if (shape) {
    errors.push(shape)
    return {}
  }
  const {value: raw, errors: dataErrors} = src.data()
  if (dataErrors.length > 0) {
    errors.push(...dataErrors)
    return {}
  }
  const before = errors.length
  errors.push(...src.duplicateKeyErrors(spec.describeKey))
  // jitless: a schema checks a handful of documents per run; compiling zod's fast path costs more than it saves.
  const parsed = spec.schema.safeParse(raw, {reportInput: true, jitless: true})
  if (!parsed.success) errors.push(...zodIssuesToErrors(src, parsed.error.issues, spec.docs))
  return errors.length === before && parsed.success ? {src, raw, data: parsed.data} : {src, raw}
}

export const CONFIG: FileSpec<typeof configSchema> = {schema: configSchema, docs: configDocs, example: 'registry: 10.213.0.2:4000', required: true}

export const INVENTORY: FileSpec<typeof inventorySchema> = {
  schema: inventorySchema,
  docs: inventoryDocs,
  example: 'hosts: {lab-1: {address: 10.213.0.2}}',
  required: true,
  describeKey(parent, key) {
    if (parent.length === 1 && parent[0] === 'hosts') return `host ${key}`
    if (parent.length === 1 && parent[0] === 'groups') return `group ${key}`
    return `key ${key}`
  },
}

/** A missing or empty passwords.yml is an empty map: deploy reports missing secrets, genpwd fills them. */
export const PASSWORDS: FileSpec<z.ZodRecord<z.ZodString, z.ZodString>> = {
  schema: z.record(z.string(), z.string().min(1)),
  docs: {
    knownKeysAt: () => [],
    fallbackHint:
      'passwords.yml is a flat map of `name: value` strings; quote values that look like numbers or booleans, or delete the entry and run `osctl genpwd` to generate it',
    fields: {},
    // Never echo what is in passwords.yml: a wrong value may still be a real secret.
    secretValues: true,
  },
  example: 'keystone_admin_password: s3cret',
  required: false,
  describeKey: (_parent, key) => `password ${key}`,
}
