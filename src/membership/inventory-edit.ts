import {stat} from 'node:fs/promises'
import {isAbsolute, resolve} from 'node:path'
import {Document, Scalar, YAMLMap, YAMLSeq, isMap, isScalar, isSeq} from 'yaml'

import {OsctlError, OsctlErrors} from '../errors.js'
import {checkForHosts} from '../site/host-checks.js'
import {checkInventory} from '../site/inventory-checks.js'
import {toSiteHosts} from '../site/inventory-schema.js'
import {nearestName} from '../site/nearest-name.js'
import {serviceRegistry} from '../site/service-registry.js'
import {INVENTORY, checkSource} from '../site/site-files.js'
import type {Site} from '../site/types.js'
import {writeFileAtomicLocal} from '../site/write-atomic.js'
import {YamlSource} from '../site/yaml-source.js'

export interface NewHost {
  name: string
  address: string
  groups: string[]
  sshUser?: string
  sshPort?: number
  sshKey?: string
}

/** inventory.yml as it will be written: the text, and the site it describes (validated). */
export interface InventoryEdit {
  file: string
  text: string
  site: Site
  /** false when the inventory already says what was asked (host add of a host already there, the same way). */
  changed?: boolean
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/
/** Addresses compare without case and without a DNS name's final dot. */
const norm = (a: string) => a.toLowerCase().replace(/\.$/, '')

/** Groups osctl gives a meaning to: `deploy` and every service's group. */
export function knownGroups(): string[] {
  return [...new Set(['deploy', ...[...serviceRegistry().groups.values()].flat()])]
}

/**
 * inventory.yml with one more host, edited as a YAML Document (comments, blank lines, flow or
 * block style kept) and checked by the loader's own rules before anything is written. Problems
 * with the request name the flag and, for a clash, the file:line of what it clashes with.
 */
export async function addHostEdit(site: Site, req: NewHost): Promise<InventoryEdit> {
  const src = await readInventory(site)
  const errors: OsctlError[] = []
  const bad = (message: string, location: string, hint: string) => errors.push(new OsctlError('USAGE', message, {location, hint}))
  if (!NAME.test(req.name)) bad(`host name ${req.name} is not valid`, 'NAME', 'a host name starts with a letter or digit and contains only letters, digits, _ . -')
  const same = site.hosts.find((h) => h.name === req.name)
  // The same request again (provisioning retries): nothing to write, not an error.
  if (same && asAsked(site, same, req)) return {file: site.files.inventory, text: src.text, site, changed: false}
  if (same) {
    const has = `it has address ${same.address}, groups ${same.groups.join(', ') || '(none)'}`
    bad(`host ${req.name} is already in the inventory (${src.locate(['hosts', req.name], {key: true})})`, 'NAME', `${has}; the same request again is accepted as is, else pick another name, or \`osctl host remove ${req.name}\` first`)
  }
  if (req.name in site.groups) bad(`${req.name} is the name of a group (${src.locate(['groups', req.name], {key: true})})`, 'NAME', '--limit would not know which one you mean; pick another name')
  const clash = site.hosts.find((h) => h.name !== req.name && norm(h.address) === norm(req.address))
  if (clash) bad(`address ${req.address} is already the address of host ${clash.name} (${src.locate(['hosts', clash.name, 'address'])})`, '--address', 'every host needs its own address: services bind the same ports on each')
  if (req.groups.length === 0) bad('--group names no group', '--group', `name one or more of: ${groupChoices(site).join(', ')}`)
  for (const group of req.groups) {
    if (groupChoices(site).includes(group)) continue
    const meant = nearestName(group, groupChoices(site))
    bad(`unknown group ${group}`, '--group', `${meant ? `did you mean ${meant}? ` : ''}groups: ${groupChoices(site).join(', ')}`)
  }
  if (req.groups.includes('deploy') && (site.groups.deploy ?? []).length > 0) {
    bad(`group deploy already has ${site.groups.deploy.join(', ')} (${src.locate(['groups', 'deploy'])})`, '--group', 'the deploy host runs the site registry; a site has exactly one')
  }
  if (errors.length > 0) throw new OsctlErrors(errors)

  const doc = src.doc
  const hosts = doc.get('hosts', true)
  if (!isMap(hosts)) throw new OsctlError('CONFIG_INVALID', '`hosts:` is not a mapping', {location: src.locate(['hosts'], {key: true})})
  const last = hosts.items.at(-1)?.value
  const entry = doc.createNode(hostFields(req)) as YAMLMap
  entry.flow = isMap(last) ? Boolean(last.flow) : true
  hosts.add(doc.createPair(req.name, entry))
  for (const group of [...new Set(req.groups)]) addMember(doc, group, req.name)
  return validated(site, render(src))
}

/** HOST already has the request's address, is in each of its groups, and has the SSH settings it names. */
function asAsked(site: Site, host: Site['hosts'][number], req: NewHost): boolean {
  const key = req.sshKey === undefined ? undefined : isAbsolute(req.sshKey) ? req.sshKey : resolve(site.dir, req.sshKey)
  return (
    norm(host.address) === norm(req.address) &&
    req.groups.length > 0 &&
    req.groups.every((g) => (site.groups[g] ?? []).includes(host.name)) &&
    (req.sshUser === undefined || req.sshUser === host.ssh.user) &&
    (req.sshPort === undefined || req.sshPort === host.ssh.port) &&
    (key === undefined || key === host.ssh.keyFile)
  )
}

/** inventory.yml without host NAME, in no group any more; refused when the site would then be invalid. */
export async function removeHostEdit(site: Site, name: string): Promise<InventoryEdit> {
  const src = await readInventory(site)
  if (!site.hosts.some((h) => h.name === name)) {
    const meant = nearestName(name, site.hosts.map((h) => h.name))
    throw new OsctlError('USAGE', `no host ${name} in ${site.files.inventory}`, {location: 'NAME', hint: meant ? `did you mean ${meant}?` : `hosts: ${site.hosts.map((h) => h.name).join(', ')}`})
  }
  if ((site.groups.deploy ?? []).includes(name)) {
    throw new OsctlError('USAGE', `${name} is the deploy host (${src.locate(['groups', 'deploy'])}): it runs the site registry every host pulls from`, {
      location: 'NAME',
      hint: 'a site keeps its deploy host; move the registry by hand first if you must replace it',
    })
  }
  const doc = src.doc
  const hosts = doc.get('hosts', true) as YAMLMap
  hosts.delete(name)
  const groups = doc.get('groups', true)
  if (isMap(groups)) {
    for (const pair of groups.items) {
      if (!isSeq(pair.value)) continue
      const seq = pair.value as YAMLSeq
      for (let i = seq.items.length - 1; i >= 0; i--) if (isScalar(seq.items[i]) && (seq.items[i] as Scalar).value === name) seq.delete(i)
    }
  }
  return validated(site, render(src))
}

/** `{a: 1}` stays `{a: 1}`: the flow-collection padding follows what the file already uses. */
function render(src: YamlSource): string {
  return src.doc.toString({flowCollectionPadding: /[[{] [^\s\]}]/.test(src.text)})
}

/** Writes the edit atomically, keeping the file's mode. */
export async function writeInventory(edit: InventoryEdit): Promise<void> {
  const mode = (await stat(edit.file)).mode & 0o777
  await writeFileAtomicLocal(edit.file, edit.text, mode)
}

/** The groups a host may join: the ones osctl uses and the ones the inventory already has. */
function groupChoices(site: Site): string[] {
  return [...new Set([...knownGroups(), ...Object.keys(site.groups)])]
}

function hostFields(req: NewHost): Record<string, string | number> {
  return {
    address: req.address,
    ...(req.sshUser !== undefined ? {ssh_user: req.sshUser} : {}),
    ...(req.sshPort !== undefined ? {ssh_port: req.sshPort} : {}),
    ...(req.sshKey !== undefined ? {ssh_key: req.sshKey} : {}),
  }
}

/** Appends NAME to a group's list, creating the group (in the style of its siblings) when needed. */
function addMember(doc: Document, group: string, name: string): void {
  let groups = doc.get('groups', true)
  if (!isMap(groups)) {
    groups = doc.createNode({}) as YAMLMap
    doc.set('groups', groups)
  }
  const map = groups as YAMLMap
  const seq = map.get(group, true)
  if (isSeq(seq)) {
    seq.add(doc.createNode(name))
    return
  }
  const sibling = map.items.find((p) => isSeq(p.value))?.value as YAMLSeq | undefined
  const fresh = doc.createNode([name]) as YAMLSeq
  fresh.flow = sibling ? Boolean(sibling.flow) : true
  map.set(group, fresh)
}

async function readInventory(site: Site): Promise<YamlSource> {
  const src = await YamlSource.read(site.files.inventory)
  if (!src) throw new OsctlError('CONFIG_MISSING', `${site.files.inventory} does not exist`, {location: site.files.inventory})
  return src
}

/**
 * The edited text through the loader's checks (schema, cross-checks, what working on hosts
 * needs: a deploy host, a host in every enabled service's group, readable SSH keys). Locations
 * name the file as it would be after the edit.
 */
async function validated(site: Site, text: string): Promise<InventoryEdit> {
  const file = site.files.inventory
  const errors: OsctlError[] = []
  const src = new YamlSource(file, text)
  const loaded = checkSource(src, INVENTORY, errors)
  if (loaded.src) errors.push(...checkInventory(loaded.src, loaded.raw, {knownGroups: knownGroups()}))
  if (errors.length === 0 && loaded.data) {
    const {hosts, groups} = toSiteHosts(loaded.data, site.dir)
    const next: Site = {...site, hosts, groups}
    errors.push(...(await checkForHosts(next, {src, data: loaded.data})))
    if (errors.length === 0) return {file, text, site: next}
  }
  throw new OsctlErrors(errors.map((e) => new OsctlError(e.code, `after the edit: ${e.message}`, {location: e.location, hint: e.hint})))
}
