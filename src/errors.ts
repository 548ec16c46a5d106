/**
 * Typed errors. Every failure osctl reports carries an exit code from the documented table,
 * a message that says what is wrong and where (file:line or flag), and a hint that says how to fix it.
 */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  PARTIAL: 3,
  ROLLED_BACK: 4,
  UNREACHABLE: 5,
  /** deploy --dry-run: something would change (nothing was changed). */
  CHANGES_PENDING: 6,
  INTERRUPTED: 130,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** The table shown in every command's help, kept next to the codes so they cannot drift apart. */
export const EXIT_CODE_TABLE: ReadonlyArray<[number, string]> = [
  [ExitCode.OK, 'success'],
  [ExitCode.FAILED, 'the operation failed (nothing half-done is left behind)'],
  [ExitCode.USAGE, 'bad usage or invalid site configuration; nothing was changed on any host'],
  [ExitCode.PARTIAL, 'partial: some hosts failed, the others succeeded (see per-host results)'],
  [ExitCode.ROLLED_BACK, 'the change did not become healthy and was rolled back automatically'],
  [ExitCode.UNREACHABLE, 'a host or engine osctl needs is unreachable or missing a prerequisite'],
  [ExitCode.CHANGES_PENDING, 'deploy --dry-run only: something would change (see the actions); nothing was changed'],
  [ExitCode.INTERRUPTED, 'interrupted (SIGINT/SIGTERM)'],
]

export function exitCodeHelp(): string {
  return ['EXIT CODES', ...EXIT_CODE_TABLE.map(([code, text]) => `  ${String(code).padEnd(4)}${text}`)].join('\n')
}

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_MISSING'
  | 'USAGE'
  | 'HOST_UNREACHABLE'
  | 'HOST_AUTH'
  | 'HOST_KEY_MISMATCH'
  | 'HOST_KEY_UNKNOWN'
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  | 'DOCKER_UNAVAILABLE'
  | 'REGISTRY_UNREACHABLE'
  | 'BUILD_FAILED'
  | 'IMAGE_UNKNOWN'
  | 'LAB'
  | 'PARTIAL'
  | 'ROLLED_BACK'
  | 'INTERRUPTED'
  | 'INTERNAL'
  | 'SITE_LOCKED'

const DEFAULT_EXIT: Record<ErrorCode, ExitCodeValue> = {
  CONFIG_INVALID: ExitCode.USAGE,
  CONFIG_MISSING: ExitCode.USAGE,
  USAGE: ExitCode.USAGE,
  IMAGE_UNKNOWN: ExitCode.USAGE,
  HOST_UNREACHABLE: ExitCode.UNREACHABLE,
  HOST_AUTH: ExitCode.UNREACHABLE,
  HOST_KEY_MISMATCH: ExitCode.UNREACHABLE,
  HOST_KEY_UNKNOWN: ExitCode.UNREACHABLE,
  DOCKER_UNAVAILABLE: ExitCode.UNREACHABLE,
  REGISTRY_UNREACHABLE: ExitCode.UNREACHABLE,
  COMMAND_FAILED: ExitCode.FAILED,
  TIMEOUT: ExitCode.FAILED,
  BUILD_FAILED: ExitCode.FAILED,
  LAB: ExitCode.FAILED,
  PARTIAL: ExitCode.PARTIAL,
  ROLLED_BACK: ExitCode.ROLLED_BACK,
  INTERRUPTED: ExitCode.INTERRUPTED,
  INTERNAL: ExitCode.FAILED,
  SITE_LOCKED: ExitCode.FAILED,
}

export interface OsctlErrorOptions {
  hint?: string
  cause?: unknown
  exitCode?: ExitCodeValue
  /** Where the problem is: `file:line[:col]`, `--flag`, or a host name. */
  location?: string
  details?: unknown
}

export class OsctlError extends Error {
  readonly code: ErrorCode
  readonly hint?: string
  readonly exitCode: ExitCodeValue
  readonly location?: string
  readonly details?: unknown

  constructor(code: ErrorCode, message: string, options: OsctlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'OsctlError'
    this.code = code
    this.hint = options.hint
    this.location = options.location
    this.details = options.details
    this.exitCode = options.exitCode ?? DEFAULT_EXIT[code]
  }

  /** One line a human can act on: `file:line: message`. */
  get headline(): string {
    return this.location ? `${this.location}: ${this.message}` : this.message
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      location: this.location,
      hint: this.hint,
      exitCode: this.exitCode,
      details: this.details,
      cause: this.cause instanceof Error ? this.cause.message : this.cause,
    }
  }
}

/** How many problems an error report lists; the rest are counted ("… and 39 980 more"). */
export const MAX_LISTED_ERRORS = 20

/** Several independent problems found at once (e.g. every validation error in a site dir). */
export class OsctlErrors extends OsctlError {
  /** The first MAX_LISTED_ERRORS problems, then one that says how many more were found. */
  readonly errors: OsctlError[]
  /** Every problem found, listed or not. */
  readonly total: number

  constructor(errors: OsctlError[], max = MAX_LISTED_ERRORS) {
    const first = errors[0]
    super(first.code, errors.length === 1 ? first.message : `${errors.length} problems found`, {
      exitCode: first.exitCode,
      hint: first.hint,
      location: first.location,
    })
    this.total = errors.length
    const more = errors.length - max
    this.errors = more <= 0 ? errors : [
      ...errors.slice(0, max),
      new OsctlError(errors[max].code, `… and ${more} more problem${more === 1 ? '' : 's'} (only the first ${max} are listed)`, {
        exitCode: errors[max].exitCode,
        hint: 'fix these and run again to see the rest',
        details: {omitted: more},
      }),
    ]
  }

  override get headline(): string {
    return this.errors.map((e) => e.headline).join('\n')
  }

  override toJSON(): Record<string, unknown> {
    return {...super.toJSON(), total: this.total, errors: this.errors.map((e) => e.toJSON())}
  }
}

export function isOsctlError(err: unknown): err is OsctlError {
  return err instanceof OsctlError
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The part of an error a per-host result or an event carries: code, message (with its location), hint. */
export function errorData(err: unknown): {code: string; message: string; hint?: string} {
  if (err instanceof OsctlError) return {code: err.code, message: err.headline, ...(err.hint ? {hint: err.hint} : {})}
  return {code: 'INTERNAL', message: errorMessage(err)}
}

/** The string lines of an error's details (a log tail), if it has any. */
export function stringDetails(err: unknown): string[] {
  const d = err instanceof OsctlError ? err.details : undefined
  return Array.isArray(d) ? d.filter((x): x is string => typeof x === 'string') : []
}
