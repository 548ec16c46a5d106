import {Flags} from '@oclif/core'

import {OsctlError} from '../errors.js'

const UNITS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86400}

/**
 * --since as Unix seconds: a duration back from now (`90s`, `10m`, `2h`, `1d`) or a date
 * (`2026-01-31`, `2026-01-31T12:00:00Z`). Both docker logs and journalctl (`@SECONDS`) take the
 * result, so the two log commands read it the same way.
 */
export function parseSince(value: string, now = Date.now()): number {
  const rel = /^(\d+)([smhd])$/.exec(value.trim())
  if (rel) return Math.floor(now / 1000) - Number(rel[1]) * UNITS[rel[2]]
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const t = Date.parse(value.trim().replace(' ', 'T'))
    if (!Number.isNaN(t)) return Math.floor(t / 1000)
  }
  throw new OsctlError('USAGE', `${JSON.stringify(value)} is neither a duration nor a date`, {location: '--since', hint: 'e.g. --since 10m, --since 2h, --since 2026-01-31T12:00:00Z'})
}

/** --tail, --since, --follow: the same for `service logs` and `system logs`. */
export const logFlags = {
  tail: Flags.integer({summary: 'Only the last N lines.', default: 100, min: 1}),
  since: Flags.string({summary: 'Only lines since a duration ago (10m, 2h, 1d) or a date (2026-01-31T12:00:00Z).'}),
  follow: Flags.boolean({char: 'f', summary: 'Keep printing new lines until interrupted (not with --json).'}),
}

/** --follow streams lines as they come; --json prints one document at the end: not both. */
export function checkFollow(follow: boolean, json: boolean): void {
  if (follow && json) throw new OsctlError('USAGE', '--follow streams lines; --json prints one document at the end', {location: '--follow', hint: 'leave out one of them'})
}
