import {isScalar, isSeq} from 'yaml'

import {OsctlError} from '../errors.js'
import {nearestName} from './nearest-name.js'
import type {YamlSource} from './yaml-source.js'

/** Groups osctl itself gives a meaning to (the services' groups and `deploy`). */
export interface InventoryNeeds {
  knownGroups: readonly string[]
}

/** "did you mean …?" compares against every name: with 20 000 hosts only the first few get one. */
const GUESSES = 50

/**
 * Checks zod cannot express because they relate one part of the inventory to another:
 * every host belongs somewhere, every group member exists, no two hosts share an address, a group
 * that looks like a misspelt known group is reported, --limit names are unambiguous. Takes the raw
 * data and reads it leniently, so these problems are reported in the same run as schema errors
 * elsewhere in the file (a bad port must not hide a host that is in no group). Linear in the
 * size of the inventory (20 000 hosts are checked in well under a second).
 */
export function checkInventory(src: YamlSource, raw: unknown, needs: InventoryNeeds = {knownGroups: []}): OsctlError[] {
  const errors: OsctlError[] = []
  const hosts = field(raw, 'hosts')
  if (!isRecord(hosts)) return errors // missing or mistyped: zod has reported it
  const hostNames = Object.keys(hosts)
  const hostSet = new Set(hostNames)
  const groups: Record<string, string[]> = {}
  const rawGroups = field(raw, 'groups')
  if (isRecord(rawGroups)) {
    for (const [group, members] of Object.entries(rawGroups)) {
      groups[group] = Array.isArray(members) ? members.filter((m): m is string => typeof m === 'string') : []
    }
  }
  let guesses = GUESSES
  const guess = (word: string, candidates: string[]) => (guesses-- > 0 ? nearestName(word, candidates) : undefined)

  if (hostNames.length === 0) {
    errors.push(src.error('inventory.yml lists no hosts', 'add at least one host under `hosts:`, e.g. `lab-1: {address: 10.213.0.2}`', ['hosts'], {key: true}))
  }

  errors.push(...duplicateAddresses(src, hosts))

  for (const [group, members] of Object.entries(groups)) {
    if (hostSet.has(group)) {
      errors.push(
        src.error(`group ${group} has the same name as a host`, 'rename the group or the host: --limit would not know which one you mean', ['groups', group], {key: true}),
      )
    }
    const seen = new Set<string>()
    members.forEach((member, i) => {
      const at = memberPath(src, group, i)
      if (!hostSet.has(member)) {
        const g = guess(member, hostNames)
        const hint = g ? `did you mean ${g}?` : `define it under \`hosts:\` or remove it from the group${hostNames.length <= 20 ? `; known hosts: ${hostNames.join(', ') || '(none)'}` : ''}`
        errors.push(src.error(`group ${group} names unknown host ${member}`, hint, at))
      } else if (seen.has(member)) {
        errors.push(src.error(`group ${group} lists host ${member} twice`, 'remove the repeated entry', at))
      }
      seen.add(member)
    })
  }

  // `contorl:` instead of `control:`: the hosts would silently run nothing osctl deploys there.
  for (const group of Object.keys(groups)) {
    if (needs.knownGroups.includes(group)) continue
    const meant = nearestName(group, needs.knownGroups)
    if (meant && !(groups[meant]?.length > 0)) {
      errors.push(
        src.error(`group ${group} is not a group osctl knows, and ${meant} is ${meant in groups ? 'empty' : 'missing'}: did you mean ${meant}?`, `rename it to \`${meant}:\` (groups osctl uses: ${needs.knownGroups.join(', ')})`, ['groups', group], {key: true}),
      )
    }
  }

  const grouped = new Set(Object.values(groups).flat())
  for (const host of hostNames) {
    if (!grouped.has(host)) {
      errors.push(
        src.error(`host ${host} is in no group`, `add it to a group under \`groups:\` (e.g. \`control: [${host}]\` or \`compute: [${host}]\`), or remove the host`, ['hosts', host], {
          key: true,
        }),
      )
    }
  }

  // The deploy host runs the site registry; two of them would mean two registries with different content.
  const deploy = groups.deploy ?? []
  if (new Set(deploy).size > 1) {
    errors.push(src.error(`group deploy lists ${new Set(deploy).size} hosts; it must list exactly one`, 'keep a single host in `deploy:` (it runs the image registry)', ['groups', 'deploy']))
  }
  return errors
}

/**
 * Two inventory hosts on one machine would get the same services bound to the same ports (every
 * container uses the host network), and "two" etcd members that are one. Addresses are compared
 * as written, case-insensitively, ignoring a trailing dot.
 */
function duplicateAddresses(src: YamlSource, hosts: Record<string, unknown>): OsctlError[] {
  const errors: OsctlError[] = []
  const first = new Map<string, string>()
  for (const [name, h] of Object.entries(hosts)) {
    const address = field(h, 'address')
    if (typeof address !== 'string' || address === '') continue
    const key = address.toLowerCase().replace(/\.$/, '')
    const other = first.get(key)
    if (other === undefined) first.set(key, name)
    else {
      const line = src.locate(['hosts', other, 'address']).split(':').at(-2)
      errors.push(
        src.error(`hosts ${other} and ${name} have the same address ${address} (${other} at line ${line})`, 'every host needs its own address: services bind the same ports on each; remove one host or fix its address', ['hosts', name, 'address']),
      )
    }
  }
  return errors
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined
}

/** Path of a group member; a group written as a scalar (`deploy: lab-1`) was already reported by zod. */
function memberPath(src: YamlSource, group: string, index: number): (string | number)[] {
  const node = src.node(['groups', group])
  return isSeq(node) && isScalar(node.items[index]) ? ['groups', group, index] : ['groups', group]
}
