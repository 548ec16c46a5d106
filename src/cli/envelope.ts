import {ErrorCode, ExitCode, OsctlError, isOsctlError} from '../errors.js'
import type {HostResult} from '../hosts/fan-out.js'
import {summarizeHosts} from '../hosts/summary.js'

/** How a per-host error reads in every command's --json: one form everywhere. */
export interface HostError {
  code: ErrorCode
  message: string
  hint?: string
  location?: string
}

/** One host's outcome: the same fields in every command; commands add their own per-host data beside them. */
export interface HostOutcome {
  host: string
  ok: boolean
  changed: boolean
  exitCode: number
  error?: HostError
}

/**
 * The one --json document every command prints on stdout: `ok`, the command, its exit code and a
 * per-host list, then the command's own data. Failures print the same shape with `error`.
 */
export type Envelope<T extends object = object, H extends object = object> = {
  ok: boolean
  command: string
  exitCode: number
  hosts: Array<HostOutcome & H>
  error?: HostError & {exitCode: number; details?: unknown; errors?: HostError[]}
} & T

/** Any of the error forms the core returns per host (OsctlError, its toJSON(), a message) as the envelope's one form. */
export function hostError(err: unknown): HostError {
  if (isOsctlError(err)) return {code: err.code, message: err.message, ...(err.hint ? {hint: err.hint} : {}), ...(err.location ? {location: err.location} : {})}
  if (typeof err !== 'object' || err === null) return {code: 'COMMAND_FAILED', message: String(err)}
  const e = err as Record<string, unknown>
  const code = (typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code) ? e.code : 'COMMAND_FAILED') as ErrorCode
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
  const hint = str(e.hint)
  const location = str(e.location)
  return {code, message: String(e.message ?? err), ...(hint ? {hint} : {}), ...(location ? {location} : {})}
}

const exitOf = (err: unknown): number => {
  if (isOsctlError(err)) return err.exitCode
  const e = err as {exitCode?: unknown}
  if (typeof e === 'object' && e !== null && typeof e.exitCode === 'number') return e.exitCode
  return new OsctlError(hostError(err).code, '').exitCode
}

/** A host's outcome from what the core reports: ok, whether it changed anything, and its error if any. */
export function outcome<H extends object>(host: string, o: {ok: boolean; changed?: boolean; error?: unknown; exitCode?: number} & H): HostOutcome & H {
  const {ok, changed, error, exitCode, ...rest} = o
  const code = exitCode ?? (ok ? ExitCode.OK : error !== undefined ? exitOf(error) : ExitCode.FAILED)
  return {...(rest as H), host, ok, changed: changed ?? false, exitCode: code, ...(error !== undefined ? {error: hostError(error)} : {})}
}

/** The command's exit code from its hosts (0, 3 partial, 5 all unreachable, else the hosts' common code or 1) unless it says otherwise. */
export function exitCodeOf(hosts: HostOutcome[]): number {
  const failed = hosts.filter((h) => !h.ok)
  if (failed.length === 0 || failed.length < hosts.length) return summarizeHosts(hosts)
  const codes = new Set(failed.map((h) => h.exitCode))
  return codes.size === 1 ? [...codes][0] : summarizeHosts(hosts)
}

export function envelope<T extends object, H extends object>(command: string, hosts: Array<HostOutcome & H>, data: T, exitCode = exitCodeOf(hosts)): Envelope<T, H> {
  return {ok: exitCode === ExitCode.OK, command, exitCode, hosts, ...data}
}

/** The failure document: same shape, no command data. */
export function errorEnvelope(command: string, err: OsctlError, hosts: HostOutcome[] = []): Envelope {
  const errors = 'errors' in err && Array.isArray(err.errors) ? (err.errors as OsctlError[]).map(hostError) : undefined
  return {
    ok: false,
    command,
    exitCode: err.exitCode,
    hosts,
    error: {...hostError(err), exitCode: err.exitCode, ...(err.details !== undefined ? {details: err.details} : {}), ...(errors ? {errors} : {})},
  }
}

/** fanOut's per-host results as outcomes; `data` adds each host's own fields. */
export function fromFanOut<T, H extends object = object>(results: Array<HostResult<T>>, data: (value: T | undefined, host: string) => H & {changed?: boolean} = () => ({}) as H): Array<HostOutcome & H> {
  return results.map((r) => outcome(r.host, {ok: r.ok, error: r.error, ...data(r.value, r.host)}))
}

/** Every target host's outcome from the errors a read reported for some of them. */
export function targetOutcomes(targets: Array<{name: string}>, errors: Array<{host: string; error: unknown}>): HostOutcome[] {
  return targets.map((t) => {
    const e = errors.find((x) => x.host === t.name)
    return outcome(t.name, e ? {ok: false, error: e.error} : {ok: true})
  })
}
