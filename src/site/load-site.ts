import {stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {z} from 'zod'

import {OsctlError, OsctlErrors} from '../errors.js'
import {configDocs, configSchema, toSiteConfig} from './config-schema.js'
import {checkInventory} from './inventory-checks.js'
import {inventoryDocs, inventorySchema, toSiteHosts} from './inventory-schema.js'
import type {Site} from './types.js'
import {YamlPath, YamlSource} from './yaml-source.js'
import {SchemaDocs, zodIssuesToErrors} from './zod-issues.js'

export const MISSING_SITE_HINT = 'run `osctl lab up` to create a lab site, or create it (see README)'

export interface LoadSiteOptions {
  /**
   * `ignore` skips passwords.yml entirely: `osctl genpwd` validates the rest of the site before
   * the passwords file exists or parses. Default `validate` (a missing file is an empty map).
   */
  passwords?: 'validate' | 'ignore'
}

export interface SiteCheck {
  /** Present only when there are no errors. */
  site?: Site
  /** Every problem in every file, so the operator can fix them all in one pass. */
  errors: OsctlError[]
}

/** Loads and validates a site dir; throws OsctlErrors listing every problem (exit code 2). */
export async function loadSite(dir: string, options: LoadSiteOptions = {}): Promise<Site> {
  const {site, errors} = await checkSite(dir, options)
  if (errors.length > 0 || !site) throw new OsctlErrors(errors)
  return site
}

/** Like loadSite, but returns the errors: for callers that tolerate some (genpwd on a new site). */
export async function checkSite(dir: string, options: LoadSiteOptions = {}): Promise<SiteCheck> {
  const siteDir = resolve(dir)
  const files = {config: join(siteDir, 'osctl.yml'), inventory: join(siteDir, 'inventory.yml'), passwords: join(siteDir, 'passwords.yml')}

  const dirError = await checkDir(siteDir)
  if (dirError) return {errors: [dirError]}

  const errors: OsctlError[] = []
  const config = await loadFile(files.config, CONFIG, errors)
  const inventory = await loadFile(files.inventory, INVENTORY, errors)
  if (inventory.src) errors.push(...checkInventory(inventory.src, inventory.src.doc.toJS()))
  const passwords = options.passwords === 'ignore' ? {data: {}} : await loadFile(files.passwords, PASSWORDS, errors)

  if (errors.length > 0 || !config.data || !inventory.data || !passwords.data) return {errors: inFileOrder(errors, Object.values(files))}
  const {hosts, groups} = toSiteHosts(inventory.data, siteDir)
  return {
    errors,
    site: {
      dir: siteDir,
      config: toSiteConfig(config.data, siteDir),
      hosts,
      groups,
      passwords: passwords.data,
      overridesDir: join(siteDir, 'overrides'),
      files,
    },
  }
}

/** Reading order: file by file, then top to bottom, so the report can be fixed in one pass down each file. */
function inFileOrder(errors: OsctlError[], files: string[]): OsctlError[] {
  const key = (e: OsctlError): [number, number, number] => {
    const m = /^(.*?)(?::(\d+):(\d+))?$/.exec(e.location ?? '') ?? []
    return [files.indexOf(m[1] ?? ''), Number(m[2] ?? 0), Number(m[3] ?? 0)]
  }
  return errors
    .map((e, i) => ({e, i, k: key(e)}))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.k[2] - b.k[2] || a.i - b.i)
    .map(({e}) => e)
}

async function checkDir(dir: string): Promise<OsctlError | undefined> {
  try {
    if ((await stat(dir)).isDirectory()) return undefined
    return new OsctlError('CONFIG_MISSING', `site ${dir} is not a directory`, {location: dir, hint: `pass the site directory with --site DIR; ${MISSING_SITE_HINT}`})
  } catch (err) {
    return new OsctlError('CONFIG_MISSING', `site directory ${dir} does not exist`, {
      location: dir,
      hint: `pass --site DIR or set OSCTL_SITE; ${MISSING_SITE_HINT}`,
      cause: err,
    })
  }
}

interface FileSpec<S extends z.ZodType> {
  schema: S
  docs: SchemaDocs
  /** Shown when the file is empty or not a mapping. */
  example: string
  /** Missing file is CONFIG_MISSING (else: validated as an empty mapping). */
  required: boolean
  describeKey?: (parent: YamlPath, key: string) => string
}

/**
 * Parses and validates one file, appending problems to `errors`.
 */
async function loadFile<S extends z.ZodType>(
  file: string,
  spec: FileSpec<S>,
  errors: OsctlError[],
): Promise<{src?: YamlSource; data?: z.output<S>}> {
  // `src` is returned only when the file parsed as a mapping (cross-checks can read it);
  // `data` only when it is also valid (a half-valid file must never reach planning).
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
  const before = errors.length
  errors.push(...src.duplicateKeyErrors(spec.describeKey))
  const parsed = spec.schema.safeParse(src.doc.toJS(), {reportInput: true})
  if (!parsed.success) errors.push(...zodIssuesToErrors(src, parsed.error.issues, spec.docs))
  return errors.length === before && parsed.success ? {src, data: parsed.data} : {src}
}

const CONFIG: FileSpec<typeof configSchema> = {schema: configSchema, docs: configDocs, example: 'registry: 10.213.0.2:4000', required: true}

const INVENTORY: FileSpec<typeof inventorySchema> = {
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
const PASSWORDS: FileSpec<z.ZodRecord<z.ZodString, z.ZodString>> = {
  schema: z.record(z.string(), z.string().min(1)),
  docs: {
    knownKeysAt: () => [],
    fallbackHint:
      'passwords.yml is a flat map of `name: value` strings; quote values that look like numbers or booleans, or delete the entry and run `osctl genpwd` to generate it',
    fields: {},
  },
  example: 'keystone_admin_password: s3cret',
  required: false,
  describeKey: (_parent, key) => `password ${key}`,
}
