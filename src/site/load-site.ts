import {stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'

import {OsctlError, OsctlErrors} from '../errors.js'
import {toSiteConfig} from './config-schema.js'
import {checkForHosts} from './host-checks.js'
import {checkInventory} from './inventory-checks.js'
import {toSiteHosts} from './inventory-schema.js'
import {misspeltPasswords} from './password-checks.js'
import {serviceRegistry} from './service-registry.js'
import {CONFIG, INVENTORY, MISSING_SITE_HINT, PASSWORDS, loadFile} from './site-files.js'
import type {Site, SiteFileKey} from './types.js'
import {vipChecks} from './vip-checks.js'
import type {YamlSource} from './yaml-source.js'

export {MISSING_SITE_HINT} from './site-files.js'

export interface LoadSiteOptions {
  /**
   * `ignore` skips passwords.yml entirely: `osctl genpwd` validates the rest of the site before
   * the passwords file exists or parses. Default `validate` (a missing file is an empty map).
   */
  passwords?: 'validate' | 'ignore'
  /**
   * Also check what working on hosts needs (host-checks.ts): the deploy group and every enabled
   * service's group have hosts, SSH key files exist, passwords.yml is private. For commands that
   * connect to hosts; still before any connection.
   */
  forHosts?: boolean
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
  const knownGroups = [...new Set(['deploy', ...[...serviceRegistry().groups.values()].flat()])]
  if (inventory.src) errors.push(...checkInventory(inventory.src, inventory.raw, {knownGroups}))
  const passwords = options.passwords === 'ignore' ? {data: {}} : await loadFile(files.passwords, PASSWORDS, errors)
  if ('src' in passwords && passwords.src) errors.push(...misspeltPasswords(passwords.src, passwords.raw))

  const order = (list: OsctlError[]) => ({errors: inFileOrder(list, Object.values(files))})
  if (errors.length > 0 || !config.data || !inventory.data || !passwords.data) return order(errors)
  const {hosts, groups} = toSiteHosts(inventory.data, siteDir)
  const sources: Partial<Record<SiteFileKey, YamlSource>> = {config: config.src, inventory: inventory.src, passwords: 'src' in passwords ? passwords.src : undefined}
  const site: Site = {
    dir: siteDir,
    config: toSiteConfig(config.data, siteDir),
    hosts,
    groups,
    passwords: passwords.data,
    overridesDir: join(siteDir, 'overrides'),
    files,
    locate: (file, path, opts) => sources[file]?.locate(path, opts) ?? files[file],
  }
  errors.push(...vipChecks(site, config.src))
  if (options.forHosts && inventory.src) errors.push(...(await checkForHosts(site, {src: inventory.src, data: inventory.data})))
  return errors.length > 0 ? order(errors) : {errors, site}
}

/** Reading order: file by file, then top to bottom, so the report can be fixed in one pass down each file. */
function inFileOrder(errors: OsctlError[], files: string[]): OsctlError[] {
  const key = (e: OsctlError): [number, number, number] => {
    const m = /^(.*?)(?::(\d+)(?::(\d+))?)?$/.exec(e.location ?? '') ?? []
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
