import type {Host} from '../hosts/host.js'
import {shellQuote} from '../hosts/host.js'
import {OsctlError} from '../errors.js'

/**
 * A log command run on a host (journalctl, docker logs) with its stderr merged in order into
 * stdout. With `follow`, every chunk goes to `sink` as it arrives and the call lasts until the
 * command ends (or osctl is interrupted: read-only commands exit at once on a signal).
 */
export async function hostLogs(host: Host, argv: string[], sink?: (chunk: string) => void): Promise<string> {
  const r = await host.exec(`${shellQuote(argv)} 2>&1`, {onStdout: sink})
  if (r.exitCode !== 0) throw new OsctlError('COMMAND_FAILED', `${host.name}: \`${argv.join(' ')}\` exited with ${r.exitCode}: ${r.stdout.trim().split('\n').at(-1) ?? ''}`)
  return r.stdout
}

/** Prefixes each complete line with `label | ` (several hosts or containers followed at once). */
export function linePrefixer(label: string, write: (text: string) => void): (chunk: string) => void {
  let rest = ''
  return (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop() ?? ''
    if (lines.length > 0) write(lines.map((l) => `${label} | ${l}\n`).join(''))
  }
}

export function journalArgs(unit: string, o: {tail: number; since?: number; follow?: boolean}): string[] {
  return ['journalctl', '-u', unit, '--no-pager', '-o', 'short-iso', '-n', String(o.tail), ...(o.since === undefined ? [] : ['--since', `@${o.since}`]), ...(o.follow ? ['-f'] : [])]
}

export function dockerLogsArgs(container: string, o: {tail: number; since?: number; follow?: boolean}): string[] {
  return ['docker', 'logs', '--tail', String(o.tail), ...(o.since === undefined ? [] : ['--since', String(o.since)]), ...(o.follow ? ['--follow'] : []), container]
}
