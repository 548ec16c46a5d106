import {Command, Errors, Flags, Interfaces} from '@oclif/core'

import {Envelope, HostOutcome, envelope, errorEnvelope} from './cli/envelope.js'
import {installSignalHandlers, interruptRequested} from './cli/interrupt.js'
import {isParseError, usageError} from './cli/usage-error.js'
import {ExitCode, OsctlError, OsctlErrors, exitCodeHelp, isOsctlError} from './errors.js'
import {PROGRESS_MODES, Progress, ProgressMode, chooseProgress} from './events/choose-renderer.js'
import type {Reporter} from './events/event-types.js'
import type {Site} from './site/types.js'
import {trace} from './cli/trace.js'

export const DEFAULT_SITE = '/etc/osctl'

/** Shared flags for every command that touches hosts. */
export const siteFlags = {
  site: Flags.string({
    summary: 'Site directory (osctl.yml, inventory.yml, passwords.yml, overrides/).',
    env: 'OSCTL_SITE',
    default: DEFAULT_SITE,
    helpGroup: 'SITE',
  }),
  limit: Flags.string({
    summary: 'Only these hosts or groups (comma-separated).',
    helpGroup: 'SITE',
  }),
}

/** Confirms a destructive operation (needed non-interactively). */
export const yesFlag = Flags.boolean({summary: 'Confirm a destructive operation (needed non-interactively).'})

/** Appends the exit-code table to a command description so `--help` always shows it. */
export function describe(text: string): string {
  return `${text}\n\n${exitCodeHelp()}`
}

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<T['flags'] & typeof OsctlCommand['baseFlags']>

export abstract class OsctlCommand extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    quiet: Flags.boolean({summary: 'Print no progress on stderr (same as --progress none).', helpGroup: 'GLOBAL'}),
    progress: Flags.option({
      options: PROGRESS_MODES,
      default: 'auto' as ProgressMode,
      summary: 'Progress on stderr: live (per-host view), plain lines, json (NDJSON events), none; auto: live on a TTY, json with --json, else plain.',
      helpGroup: 'GLOBAL',
    })(),
  }

  /** Commands that change hosts stop between steps on a signal; the others exit at once. */
  static changesHosts = false

  private progressOut?: Progress
  private readonly sessions: Array<{close(): Promise<void>}> = []
  private readonly releases: Array<() => Promise<void>> = []
  private uninstallSignals?: () => void

  override async init(): Promise<void> {
    await super.init()
    this.uninstallSignals = installSignalHandlers({
      mode: (this.constructor as typeof OsctlCommand).changesHosts ? 'between-steps' : 'at-once',
      notice: (m) => this.notice(m),
      beforeExit: () => this.progressOut?.stop(),
    })
  }

  /** The command's name as typed (`service list`). */
  protected get commandName(): string {
    return (this.id ?? this.constructor.name).replaceAll(':', ' ')
  }

  /**
   * The command's result as the one --json envelope; its exit code (from the hosts unless given)
   * becomes the process's. After a signal the run ends as interrupted (130) whatever it finished.
   */
  protected done<T extends object, H extends object>(data: T, hosts: Array<HostOutcome & H> = [], exitCode?: number): Envelope<T, H> {
    const result = envelope(this.commandName, hosts, data, interruptRequested() ? ExitCode.INTERRUPTED : exitCode)
    this.successExitCode = result.exitCode
    return result
  }

  /**
   * closing(), and the site lock in etcd for the whole command (site-lock.ts): a command that
   * changes hosts runs alone on its site; another one is refused naming this one.
   */
  protected async exclusive<T extends {site: Site; session: {close(): Promise<void>}}>(ctx: T): Promise<T> {
    this.closing(ctx)
    await this.lockSite(ctx.site)
    return ctx
  }

  /** The site lock alone, released when the command ends (see exclusive()). */
  protected async lockSite(site: Site): Promise<void> {
    // The command and its arguments (what it works on), not its flags.
    const args = this.argv.slice(0, this.argv.findIndex((a) => a.startsWith('-')) >>> 0)
    // Loaded here: commands that take no lock (`config validate`, help) start without it.
    const {acquireSiteLock} = await import('./session/site-lock.js')
    this.releases.push(await acquireSiteLock(site, [this.commandName, ...args].join(' '), this.reporter()))
  }

  /** A context whose host session this command closes once, at the end, whatever happens. */
  protected closing<T extends {session: {close(): Promise<void>}}>(ctx: T): T {
    this.sessions.push(ctx.session)
    return ctx
  }

  /** Progress goes to stderr, never stdout, so `--json` output stays one document. One renderer per command. */
  protected reporter(): Reporter {
    this.progressOut ??= chooseProgress(this.argv.includes('--quiet') ? 'none' : progressFlag(this.argv), {json: this.jsonEnabled()})
    return this.progressOut.reporter
  }

  override log(message = '', ...args: unknown[]): void {
    this.progressOut?.clear()
    super.log(message, ...args)
  }

  /** Something the operator must see even with --json or --quiet (stderr, so stdout stays one document). */
  protected notice(message: string): void {
    this.progressOut?.clear()
    process.stderr.write(`osctl: ${message}\n`)
  }

  /** Exit code for a successful run; commands with per-host results override via `result`. */
  protected successExitCode = ExitCode.OK as number

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // oclif's own exit (this.exit) passes through untouched.
    if (err instanceof Errors.ExitError) throw err
    this.progressOut?.stop()
    const osctl = toOsctlError(err)
    if (this.jsonEnabled()) {
      this.logJson(errorEnvelope(this.commandName, osctl, hostsOf(osctl)))
    } else {
      const lines: string[] = []
      const each = osctl instanceof OsctlErrors ? osctl.errors : [osctl]
      if (each.length > 1) lines.push(`Error: ${osctl.message}`)
      for (const e of each) {
        lines.push(`${each.length > 1 ? '  ✖ ' : 'Error: '}${e.headline}`)
        if (e.hint) lines.push(`${each.length > 1 ? '    ' : ''}Hint: ${e.hint}`)
        for (const d of Array.isArray(e.details) ? e.details : []) if (typeof d === 'string') lines.push(`    | ${d}`)
      }
      if (process.env.OSCTL_DEBUG && err.stack) lines.push(err.stack)
      process.stderr.write(lines.join('\n') + '\n')
    }
    this.exit(osctl.exitCode)
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    this.uninstallSignals?.()
    this.progressOut?.stop()
    trace('finally')
    await Promise.allSettled(this.releases.map((release) => release()))
    trace('released')
    await Promise.allSettled(this.sessions.map((s) => s.close()))
    trace('closed')
    if (!err && this.successExitCode !== ExitCode.OK) process.exitCode = this.successExitCode
    return super.finally(err)
  }
}

/** oclif parse errors become USAGE errors naming the flag; unknown errors keep their message, never a stack. */
export function toOsctlError(err: unknown): OsctlError {
  if (isOsctlError(err)) return err
  if (isParseError(err)) return usageError(err as Error)
  const e = err as Error
  return new OsctlError('INTERNAL', e?.message ?? String(err), {cause: err, hint: 'Re-run with OSCTL_DEBUG=1 for a stack trace.'})
}

/** Errors that carry per-host outcomes (a partial failure) keep them in the failure envelope. */
function hostsOf(err: OsctlError): HostOutcome[] {
  const d = err.details as {hosts?: unknown} | undefined
  return Array.isArray(d?.hosts) && d.hosts.every((h) => typeof h === 'object' && h !== null && 'host' in h && 'ok' in h && 'exitCode' in h) ? (d.hosts as HostOutcome[]) : []
}

/** --progress read from argv: reporter() may be asked for before (or without) this.parse. */
function progressFlag(argv: string[]): ProgressMode {
  const i = argv.findIndex((a) => a === '--progress' || a.startsWith('--progress='))
  const value = i < 0 ? 'auto' : argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1]
  return (PROGRESS_MODES as readonly string[]).includes(value) ? (value as ProgressMode) : 'auto'
}
