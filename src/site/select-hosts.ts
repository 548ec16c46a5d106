import {OsctlError} from '../errors.js'
import {nearestName} from './nearest-name.js'
import type {Site, SiteHost} from './types.js'

/**
 * Resolves `--limit` (comma list of host and/or group names) to hosts, in inventory order and
 * without repeats, so a host named twice (directly and via its group) is worked on once.
 * No limit means every host. An unknown name is a usage error: silently skipping it could
 * make an operator believe a host was upgraded when it was not.
 */
export function selectHosts(site: Site, limit?: string): SiteHost[] {
  if (limit === undefined) return [...site.hosts]
  const names = limit
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0)
  const valid = validNames(site)
  if (names.length === 0) {
    throw new OsctlError('USAGE', '--limit is empty', {location: '--limit', hint: `name hosts or groups, comma-separated: ${valid}`})
  }

  const wanted = new Set<string>()
  const unknown: string[] = []
  for (const name of names) {
    if (site.hosts.some((h) => h.name === name)) wanted.add(name)
    else if (site.groups[name]) for (const member of site.groups[name]) wanted.add(member)
    else unknown.push(name)
  }
  if (unknown.length > 0) {
    const candidates = [...site.hosts.map((h) => h.name), ...Object.keys(site.groups)]
    const guesses = unknown.map((n) => nearestName(n, candidates)).filter((g): g is string => g !== undefined)
    const guess = guesses.length > 0 ? `did you mean ${guesses.join(', ')}? ` : ''
    throw new OsctlError('USAGE', `--limit names unknown ${unknown.length === 1 ? 'host or group' : 'hosts or groups'} ${unknown.join(', ')}`, {
      location: '--limit',
      hint: `${guess}valid names: ${valid}`,
    })
  }
  return site.hosts.filter((h) => wanted.has(h.name))
}

function validNames(site: Site): string {
  const hosts = site.hosts.map((h) => h.name).join(', ') || '(none)'
  const groups = Object.keys(site.groups).join(', ') || '(none)'
  return `hosts ${hosts}; groups ${groups}`
}
