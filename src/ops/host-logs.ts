import type {Host} from '../hosts/host.js'
import {shellQuote} from '../hosts/host.js'
import {OsctlError} from '../errors.js'

/**
 * Runs "$@" (stderr into stdout) in the background and kills it once stdin reaches EOF, which
 * happens when osctl goes away (Ctrl-C, a lost connection): sshd does not end a command that has
 * no terminal, and a `docker logs --follow` of a quiet container would otherwise run on for ever.
 * An asynchronous list's stdin is /dev/null in sh, hence the copy on fd 3.
 */
export const FOLLOW_SCRIPT = 'exec 3<&0; "$@" 2>&1 & p=$!; (cat <&3 >/dev/null 2>&1; kill $p 2>/dev/null) >/dev/null 2>&1 & exec 3<&-; wait $p'

/**
 * A log command run on a host (journalctl, docker logs) with its stderr merged in order into
 * stdout. With a `sink` (follow), every chunk goes to it as it arrives and the call lasts until
 * the command ends; when osctl ends first (read-only commands exit at once on a signal), the
 * command ends on the host too (FOLLOW_SCRIPT).
 */
export async function hostLogs(host: Host, argv: string[], sink?: (chunk: string) => void): Promise<string> {
  const r = sink
    ? await host.exec(['sh', '-c', FOLLOW_SCRIPT, 'sh', ...argv], {onStdout: sink, holdStdin: true})
    : await host.exec(`${shellQuote(argv)} 2>&1`)
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
