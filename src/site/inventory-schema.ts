import {isAbsolute, resolve} from 'node:path'
import {z} from 'zod'

import {isHostAddress} from './address.js'
import type {SiteHost} from './types.js'
import type {YamlPath} from './yaml-source.js'
import type {SchemaDocs} from './zod-issues.js'

// Names end up in container names, unit names and --limit lists: keep them shell- and DNS-friendly.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/
const NAME_RULE = 'must start with a letter or digit and contain only letters, digits, _ . -'

const sshFields = {
  ssh_user: z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'must be a user name such as root').optional(),
  ssh_port: z.int().min(1).max(65535).optional(),
  ssh_key: z.string().min(1).optional(),
}

const hostSchema = z.strictObject({
  address: z.string().refine(isHostAddress, 'must be an IPv4/IPv6 address or a DNS name'),
  ...sshFields,
})

// `lab-1:` with nothing under it (or `groups:` left empty) parses as null; treat it as empty so
// the operator hears about the missing address, not about "expected object, received null".
const orEmpty = <T extends z.ZodType>(schema: T, empty: unknown) => z.preprocess((v) => (v === null ? empty : v), schema)

export const inventorySchema = z.strictObject({
  defaults: orEmpty(z.strictObject(sshFields), {}).optional(),
  hosts: z.record(z.string().regex(NAME, NAME_RULE), orEmpty(hostSchema, {})),
  groups: orEmpty(z.record(z.string().regex(NAME, NAME_RULE), orEmpty(z.array(z.string()), [])), {}).optional(),
})

export type InventoryFile = z.output<typeof inventorySchema>

export const inventoryDocs: SchemaDocs = {
  knownKeysAt(path: YamlPath) {
    if (path.length === 0) return ['defaults', 'hosts', 'groups']
    if (path[0] === 'defaults') return Object.keys(sshFields)
    return Object.keys(hostSchema.shape)
  },
  fallbackHint: 'see the inventory.yml reference in README.md',
  fields: {
    hosts: {what: 'a mapping of host names to their settings', hint: 'list each host by name, e.g. `hosts: {lab-1: {address: 10.213.0.2}}`'},
    groups: {what: 'a mapping of group names to lists of hosts', hint: 'e.g. `groups: {control: [lab-1]}`'},
    defaults: {what: 'a mapping of ssh_user, ssh_port, ssh_key', hint: 'e.g. `defaults: {ssh_user: root}`'},
    address: {hint: 'set `address:` to the IP address or DNS name osctl reaches the host on over SSH, e.g. `address: 10.213.0.2`'},
    ssh_user: {hint: 'the user osctl logs in as, e.g. `ssh_user: root`'},
    ssh_port: {what: 'an integer between 1 and 65535', hint: 'use the SSH port as a plain integer between 1 and 65535, e.g. `ssh_port: 22`'},
    ssh_key: {hint: 'a private key path relative to the site dir or absolute, e.g. `ssh_key: id_ed25519`'},
  },
}

/** Host names per group, and the groups each host is in; group order is the file's order. */
export function toSiteHosts(file: InventoryFile, siteDir: string): {hosts: SiteHost[]; groups: Record<string, string[]>} {
  const groups: Record<string, string[]> = {}
  // Each host's groups in one pass (in group order), not a scan of every group per host.
  const memberOf = new Map<string, string[]>()
  for (const [group, members] of Object.entries(file.groups ?? {})) {
    groups[group] = [...new Set(members)]
    for (const m of groups[group]) memberOf.set(m, [...(memberOf.get(m) ?? []), group])
  }
  // kolla's default: the network agents run where the control plane does, unless the inventory says
  // otherwise. Hosts keep the groups the file gives them (see groupHosts); --limit network works.
  if (!('network' in groups) && groups.control) groups.network = [...groups.control]
  const defaults = file.defaults ?? {}
  const hosts = Object.entries(file.hosts).map(([name, h]): SiteHost => {
    const key = h.ssh_key ?? defaults.ssh_key
    return {
      name,
      address: h.address,
      ssh: {
        user: h.ssh_user ?? defaults.ssh_user ?? 'root',
        port: h.ssh_port ?? defaults.ssh_port ?? 22,
        ...(key === undefined ? {} : {keyFile: isAbsolute(key) ? key : resolve(siteDir, key)}),
      },
      groups: memberOf.get(name) ?? [],
    }
  })
  return {hosts, groups}
}
