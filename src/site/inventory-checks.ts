import {isScalar, isSeq} from 'yaml'

import {OsctlError} from '../errors.js'
import {nearestName} from './nearest-name.js'
import type {YamlSource} from './yaml-source.js'

/**
 * Checks zod cannot express because they relate one part of the inventory to another:
 * every host belongs somewhere, every group member exists, --limit names are unambiguous.
 * Takes the raw data and reads it leniently, so these problems are reported in the same run as
 * schema errors elsewhere in the file (a bad port must not hide a host that is in no group).
 */
export function checkInventory(src: YamlSource, raw: unknown): OsctlError[] {
  const errors: OsctlError[] = []
  const hosts = field(raw, 'hosts')
  if (!isRecord(hosts)) return errors // missing or mistyped: zod has reported it
  const hostNames = Object.keys(hosts)
  const groups: Record<string, string[]> = {}
  const rawGroups = field(raw, 'groups')
  if (isRecord(rawGroups)) {
    for (const [group, members] of Object.entries(rawGroups)) {
      groups[group] = Array.isArray(members) ? members.filter((m): m is string => typeof m === 'string') : []
    }
  }

  if (hostNames.length === 0) {
    errors.push(src.error('inventory.yml lists no hosts', 'add at least one host under `hosts:`, e.g. `lab-1: {address: 10.213.0.2}`', ['hosts'], {key: true}))
  }

  for (const [group, members] of Object.entries(groups)) {
    if (hostNames.includes(group)) {
      errors.push(
        src.error(`group ${group} has the same name as a host`, 'rename the group or the host: --limit would not know which one you mean', ['groups', group], {key: true}),
      )
    }
    const seen = new Set<string>()
    members.forEach((member, i) => {
      const at = memberPath(src, group, i)
      if (!hostNames.includes(member)) {
        const guess = nearestName(member, hostNames)
        const hint = guess ? `did you mean ${guess}?` : `define it under \`hosts:\` or remove it from the group; known hosts: ${hostNames.join(', ') || '(none)'}`
        errors.push(src.error(`group ${group} names unknown host ${member}`, hint, at))
      } else if (seen.has(member)) {
        errors.push(src.error(`group ${group} lists host ${member} twice`, 'remove the repeated entry', at))
      }
      seen.add(member)
    })
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined
}

/** Path of a group member; a group written as a scalar (`deploy: lab-1`) was already reported by zod. */
function memberPath(src: YamlSource, group: string, index: number): (string | number)[] {
  const node = src.doc.getIn(['groups', group], true)
  return isSeq(node) && isScalar(node.items[index]) ? ['groups', group, index] : ['groups', group]
}
