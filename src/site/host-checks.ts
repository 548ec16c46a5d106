import {constants} from 'node:fs'
import {access, stat} from 'node:fs/promises'

import {OsctlError} from '../errors.js'
import type {InventoryFile} from './inventory-schema.js'
import {serviceRegistry} from './service-registry.js'
import type {Site} from './types.js'
import type {YamlSource} from './yaml-source.js'

/**
 * What must hold before osctl works on hosts, beyond the files being well-formed (load-site
 * checks that): a deploy host and a host for every enabled service's group, an SSH key file
 * that exists and is readable wherever one is named, and a passwords.yml only its owner can read.
 * Each problem at the inventory.yml line it comes from; nothing here connects anywhere.
 */
export async function checkForHosts(site: Site, inventory: {src: YamlSource; data: InventoryFile}): Promise<OsctlError[]> {
  return [...requiredGroups(site, inventory.src), ...(await keyFiles(site, inventory)), ...(await passwordsMode(site))]
}

function requiredGroups(site: Site, src: YamlSource): OsctlError[] {
  const errors: OsctlError[] = []
  const where = (group: string) => (src.node(['groups', group]) !== undefined ? ['groups', group] : src.node(['groups']) !== undefined ? ['groups'] : [])
  const deploy = site.groups.deploy ?? []
  if (deploy.length === 0) {
    errors.push(src.error(`group deploy ${'deploy' in site.groups ? 'is empty' : 'is missing'}: it must list exactly one host`, 'add `deploy: [HOST]` under `groups:`: that host runs the image registry every other host pulls from', where('deploy'), {key: true}))
  }
  const byGroup = new Map<string, string[]>()
  const groups = serviceRegistry().groups
  // A `network` group the file does not name is the control hosts (inventory-schema.ts): an empty
  // control group is the one problem, reported once, with the network services among its users.
  const fileGroup = (group: string) => (group === 'network' && src.node(['groups', 'network']) === undefined ? 'control' : group)
  for (const service of site.config.enabledServices) {
    for (const group of new Set((groups.get(service) ?? []).map(fileGroup))) {
      if (group !== 'deploy') byGroup.set(group, [...(byGroup.get(group) ?? []), service])
    }
  }
  for (const [group, services] of byGroup) {
    if ((site.groups[group] ?? []).length > 0) continue
    errors.push(
      src.error(`group ${group} ${group in site.groups ? 'is empty' : 'is missing'}, but enabled services run on it: ${services.join(', ')}`, `add \`${group}: [HOST, …]\` under \`groups:\`, or remove those services from enabled_services in osctl.yml`, where(group), {key: true}),
    )
  }
  return errors
}

/** One error per ssh_key line (a `defaults:` key shared by 20 000 hosts is checked once). */
async function keyFiles(site: Site, inventory: {src: YamlSource; data: InventoryFile}): Promise<OsctlError[]> {
  const lines = new Map<string, {file: string; at: Array<string | number>; hosts: string[]}>()
  for (const h of site.hosts) {
    if (!h.ssh.keyFile) continue
    const own = inventory.data.hosts[h.name]?.ssh_key !== undefined
    const at = own ? ['hosts', h.name, 'ssh_key'] : ['defaults', 'ssh_key']
    const id = at.join('\0')
    const entry = lines.get(id) ?? {file: h.ssh.keyFile, at, hosts: []}
    entry.hosts.push(h.name)
    lines.set(id, entry)
  }
  const errors: OsctlError[] = []
  for (const {file, at, hosts} of lines.values()) {
    const problem = await keyProblem(file)
    if (!problem) continue
    const who = hosts.length > 3 ? `${hosts.slice(0, 3).join(', ')} and ${hosts.length - 3} more` : hosts.join(', ')
    errors.push(inventory.src.error(`SSH key file ${file} ${problem} (used for ${who})`, 'ssh_key is the private key osctl logs in with, relative to the site dir or absolute; fix the path or create the key (ssh-keygen)', at))
  }
  return errors
}

async function keyProblem(file: string): Promise<string | undefined> {
  try {
    const st = await stat(file)
    if (!st.isFile()) return 'is not a regular file'
    if (st.size > 64 * 1024) return 'is too big to be a private key'
    await access(file, constants.R_OK)
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code})`
  }
}

/** Like ssh with a private key: a secrets file others can read is refused, not silently used. */
async function passwordsMode(site: Site): Promise<OsctlError[]> {
  const st = await stat(site.files.passwords).catch(() => undefined)
  if (!st || (st.mode & 0o077) === 0) return []
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0')
  return [
    new OsctlError('CONFIG_INVALID', `${site.files.passwords} is not private (mode ${mode}): other users can read or change the site's secrets`, {
      location: site.files.passwords,
      hint: `chmod 600 ${site.files.passwords} (\`osctl genpwd\` also sets mode 0600)`,
    }),
  ]
}
