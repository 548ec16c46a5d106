import {OsctlError} from '../errors.js'
import {nearestName} from '../site/nearest-name.js'

/** What oclif's parser errors carry: the message, and the command's flag and arg definitions. */
type ParseError = Error & {
  parse?: {input?: {flags?: Record<string, {char?: string; options?: readonly string[]}>; args?: Record<string, {description?: string}>}}
  args?: Array<{name?: string; description?: string}>
  flags?: string[]
  oclif?: {exit?: number}
}

const HELP = 'see --help for the arguments and flags this command takes'

/** Whether an error came from oclif parsing argv (a usage error, exit 2) rather than from the command. */
export function isParseError(err: unknown): boolean {
  const e = err as ParseError
  return Boolean(e) && (e.parse !== undefined || e.oclif?.exit === 2 || /^Parsing --\S+ \n/.test(e.message ?? ''))
}

/**
 * An oclif parse error as one usage error that keeps what oclif knew: which flag or argument,
 * what was wrong with it, and a fix ("did you mean --serial?"). oclif's own messages put the
 * reason on later lines ("Parsing --serial \n\tExpected an integer…"), which a one-line report
 * would cut off.
 */
export function usageError(err: ParseError): OsctlError {
  const text = stripAnsi(err.message ?? String(err))
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^See more help with --help/.test(l.trim()))
  const [first = 'invalid usage', ...rest] = text
  const flagDefs = err.parse?.input?.flags ?? {}
  // No `cause`: oclif's wording is what this replaces, and would reappear in --json.
  const usage = (message: string, location?: string, hint = HELP) => new OsctlError('USAGE', message, {location, hint})

  let m: RegExpExecArray | null
  if ((m = /^Parsing --(\S+)/.exec(first))) {
    // A flag's own parse function or oclif's integer/min checks: the reason is on the next line.
    const reason = rest.join(' ').trim().replace(/^Expected (an?) /, 'expected $1 ').replace(/ but received: (.*)$/, (_s, v: string) => `, not ${JSON.stringify(v)}`)
    return usage(reason || 'invalid value', `--${m[1]}`)
  }
  if ((m = /^Missing (\d+) required args?/.exec(first))) {
    const named = err.args?.filter((a) => a.name) ?? []
    const names = named.map((a) => a.name!.toUpperCase())
    const what = named.map((a) => `${a.name!.toUpperCase()}: ${oneLine(a.description)}`).join('; ')
    return usage(names.length > 1 ? `required arguments ${names.join(' ')} are missing` : 'required argument is missing', names[0], what ? `${what} (${HELP})` : HELP)
  }
  if ((m = /^Nonexistent flags?: (.*)$/.exec(first))) {
    const unknown = m[1].split(',').map((s) => s.trim())
    const known = Object.keys(flagDefs).map((f) => `--${f}`)
    const guesses = unknown.map((f) => nearestName(f.replace(/=.*$/, ''), known)).filter((g): g is string => g !== undefined)
    const hint = guesses.length > 0 ? `did you mean ${guesses.join(', ')}? (${HELP})` : `flags of this command: ${known.join(', ')}`
    return usage(unknown.length > 1 ? `no such flags: ${unknown.join(', ')}` : 'no such flag', unknown[0].replace(/=.*$/, ''), hint)
  }
  if ((m = /^Unexpected arguments?: (.*)$/.exec(first))) {
    const extra = m[1].split(',').map((s) => s.trim())
    return usage(extra.length > 1 ? `unexpected arguments ${extra.join(' ')}` : 'unexpected argument', extra[0], `quote a value that contains spaces; ${HELP}`)
  }
  if ((m = /^Expected --([^=\s]+)=(.*) to be one of: (.*)$/.exec(first))) {
    const options = m[3].split(',').map((s) => s.trim())
    const guess = nearestName(m[2], options)
    return usage(`must be one of ${options.join(', ')}, not ${JSON.stringify(m[2])}`, `--${m[1]}`, guess ? `did you mean ${guess}?` : HELP)
  }
  if ((m = /^Flag --(\S+) expects a value/.exec(first))) {
    return usage('needs a value', `--${m[1]}`, `write --${m[1]} VALUE or --${m[1]}=VALUE`)
  }
  if (/^The following errors? occurred:/.test(first)) {
    // oclif's flag validation (required flags, exclusive/dependent flags): one reason per line.
    const reasons = rest.map((l) => l.trim()).filter(Boolean)
    const required = reasons.map((r) => /^Missing required flag (\S+)/.exec(r)?.[1]).filter((f): f is string => f !== undefined)
    if (required.length === reasons.length && required.length > 0) {
      const flags = required.map((f) => `--${f}`)
      return usage(flags.length > 1 ? `required flags ${flags.join(', ')} are missing` : 'required flag is missing', flags[0])
    }
    const flag = /--([a-z][\w-]*)/.exec(reasons.join(' '))?.[0]
    return usage(reasons.join('; ') || first, flag)
  }
  return usage([first, ...rest].map((l) => l.trim()).join(' '))
}

function oneLine(text?: string): string {
  return (text ?? '').replace(/\s+/g, ' ').trim()
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001B\[[0-9;]*m/g, '')
}
