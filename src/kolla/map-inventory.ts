import {dirname, isAbsolute, resolve} from 'node:path'

import {OsctlError} from '../errors.js'
import {IniInventory, Located, groupHosts, groupsOf, hostVar} from './ini-inventory.js'
import type {Mapped, Unmapped} from './map-globals.js'

export interface InventoryMapping {
  /** inventory.yml as data (defaults, hosts, groups). */
  inventory: {defaults?: Record<string, string | number>; hosts: Record<string, Record<string, string | number>>; groups: Record<string, string[]>}
  /** The deploy host (runs the site registry) and its address. */
  deploy: {name: string; address: string}
  /** True when the registry kolla named is one of the hosts (the deploy host then is that host). */
  registryOnHost: boolean
  mapped: Mapped[]
  unmapped: Unmapped[]
}

/** Ansible connection variables and the inventory.yml field each becomes. */
const SSH_VARS: Record<string, 'address' | 'ssh_user' | 'ssh_port' | 'ssh_key'> = {
  ansible_host: 'address',
  ansible_user: 'ssh_user',
  ansible_ssh_user: 'ssh_user',
  ansible_port: 'ssh_port',
  ansible_ssh_port: 'ssh_port',
  ansible_ssh_private_key_file: 'ssh_key',
}

/**
 * kolla's groups → osctl's: `control` (with its children) runs the control plane and etcd,
 * `compute` the hypervisors, `deploy` is the host the registry runs on (the one docker_registry
 * names, else the first control host). Hosts only in network/storage/monitoring groups run
 * nothing osctl deploys and are reported, as is every variable osctl has no counterpart for.
 */
export function mapInventory(inv: IniInventory, registryHost?: string): InventoryMapping {
  const at = (line: number) => `${inv.file}:${line}`
  const control = groupHosts(inv, 'control')
  const compute = groupHosts(inv, 'compute')
  if (control.length === 0) {
    throw new OsctlError('CONFIG_INVALID', 'the kolla inventory has no host in group control', {location: inv.file, hint: 'osctl needs at least one control host (mariadb, keystone, etcd run there)'})
  }
  const kept = inv.hosts.filter((h) => control.includes(h) || compute.includes(h))
  const mapped: Mapped[] = []
  const unmapped: Unmapped[] = []
  const firstLine = (host: string) => Math.min(...[...inv.members.values()].flat().filter((m) => m.value === host).map((m) => m.line))
  for (const host of inv.hosts.filter((h) => !kept.includes(h))) {
    const local = hostVar(inv, host, 'ansible_connection')?.value === 'local'
    const groups = groupsOf(inv, host).filter((g) => !['baremetal', 'common', 'all'].includes(g))
    unmapped.push({location: at(firstLine(host)), key: `host ${host}`, reason: local ? 'the deployment host kolla-ansible runs on; osctl runs wherever you run it' : `only in ${groups.slice(0, 4).join(', ')}${groups.length > 4 ? ', …' : ''}: osctl deploys nothing there yet`})
  }

  const hosts: Record<string, Record<string, string | number>> = {}
  for (const host of kept) {
    const entry: Record<string, string | number> = {}
    for (const [name, field] of Object.entries(SSH_VARS)) {
      const v = hostVar(inv, host, name)
      if (!v || field in entry) continue
      if (field === 'ssh_port') {
        const port = Number(v.value)
        if (Number.isInteger(port) && port > 0 && port < 65536) entry[field] = port
        else unmapped.push({location: at(v.line), key: name, reason: `not a port number (${v.value})`})
      } else entry[field] = field === 'ssh_key' && !isAbsolute(v.value) ? resolve(dirname(inv.file), v.value) : v.value
    }
    entry.address ??= host
    hosts[host] = entry
  }
  reportVariables(inv, kept, mapped, unmapped)

  const address = (h: string) => String(hosts[h].address)
  const onRegistry = registryHost ? kept.find((h) => h === registryHost || address(h) === registryHost) : undefined
  const deploy = onRegistry ?? control[0]
  const groups = {deploy: [deploy], control, compute: compute.filter((h) => kept.includes(h))}
  const controlLine = inv.groupLines.get('control')
  if (controlLine) mapped.push({from: at(controlLine), key: '[control]', to: 'groups.control'})
  const computeLine = inv.groupLines.get('compute')
  if (computeLine) mapped.push({from: at(computeLine), key: '[compute]', to: 'groups.compute'})
  return {inventory: {...factorDefaults(hosts), groups}, deploy: {name: deploy, address: address(deploy)}, registryOnHost: Boolean(onRegistry), mapped, unmapped}
}

/** Every host and group variable once (at its line): mapped when it is an SSH setting of a kept host. */
function reportVariables(inv: IniInventory, kept: string[], mapped: Mapped[], unmapped: Unmapped[]): void {
  const seen = new Set<string>()
  const note = (key: string, v: Located, hostsAffected: string[]) => {
    const id = `${v.line}\0${key}`
    if (seen.has(id)) return
    seen.add(id)
    const location = `${inv.file}:${v.line}`
    if (key in SSH_VARS && hostsAffected.some((h) => kept.includes(h))) mapped.push({from: location, key, to: `hosts.*.${SSH_VARS[key]}`})
    else if (key in SSH_VARS) return // for a host osctl leaves out: reported with the host
    else if (key === 'ansible_connection' && v.value === 'ssh') return
    else unmapped.push({location, key, reason: key.startsWith('ansible_') ? 'osctl logs in over SSH as ssh_user with ssh_key, nothing else' : 'a per-host kolla setting osctl has no counterpart for'})
  }
  // Variables of a host osctl leaves out are covered by that host's own line in the report.
  for (const [host, vars] of inv.hostVars) if (kept.includes(host)) for (const [k, v] of vars) note(k, v, [host])
  for (const [group, vars] of inv.groupVars) for (const [k, v] of vars) note(k, v, groupHosts(inv, group))
}

/** A setting every host shares moves to `defaults:`, as an operator would write it. */
function factorDefaults(hosts: Record<string, Record<string, string | number>>): {defaults?: Record<string, string | number>; hosts: typeof hosts} {
  const entries = Object.values(hosts)
  const defaults: Record<string, string | number> = {}
  for (const field of ['ssh_user', 'ssh_port', 'ssh_key']) {
    const values = new Set(entries.map((e) => e[field]))
    if (entries.length > 1 && values.size === 1 && !values.has(undefined as unknown as string)) {
      defaults[field] = entries[0][field]
      for (const e of entries) delete e[field]
    }
  }
  return Object.keys(defaults).length > 0 ? {defaults, hosts} : {hosts}
}
