import {constants as osConstants} from 'node:os'
import type {Duplex} from 'node:stream'

import {OsctlError} from '../errors.js'

export interface ExecResult {
  exitCode: number
  stdout: string
  stderr: string
  /** Set when the process was killed by a signal (e.g. 'SIGKILL'); exitCode is then 128 + signo. */
  signal?: string
}

export interface ExecOptions {
  /** Fed to stdin; stdin is closed right away when absent so commands never wait for input. */
  input?: string | Buffer
  /**
   * No input, but stdin stays open (nothing is written) until the command ends or osctl goes
   * away: a command that reads it to EOF learns that osctl is gone (see hostLogs' follow).
   */
  holdStdin?: boolean
  env?: Record<string, string>
  cwd?: string
  /** Kills the command and throws OsctlError('TIMEOUT') naming host and command. */
  timeoutMs?: number
  onStdout?: (chunk: string) => void
  onStderr?: (chunk: string) => void
}

export interface WriteOptions {
  /** Default: the mode of the file being replaced, else 0o644. */
  mode?: number
  /** "user:group" (or "user"); applied before the rename so the file never exists with the wrong owner. */
  owner?: string
}

export interface FileWrite {
  path: string
  data: string | Buffer
  mode: number
}

export interface Host {
  /** Inventory name, used in every message. */
  readonly name: string
  readonly address: string
  /**
   * argv array: each element is shell-quoted for SSH; never interpreted by a shell locally.
   * A single string runs via `sh -c`. Non-zero exit is NOT an error: the caller decides.
   */
  exec(command: string[] | string, opts?: ExecOptions): Promise<ExecResult>
  /** exec that throws OsctlError('COMMAND_FAILED') with host, command, exit code and stderr tail on exit != 0. */
  run(command: string[] | string, opts?: ExecOptions): Promise<string>
  /** Missing file -> OsctlError('COMMAND_FAILED') naming host:path. */
  readFile(path: string): Promise<Buffer>
  readFileIfExists(path: string): Promise<Buffer | undefined>
  /** Several files in one round trip; a missing one maps to undefined. */
  readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>>
  /** The regular files directly in `dir`, name → content, in one round trip where it can (empty when `dir` is missing). */
  readDir(dir: string): Promise<Map<string, Buffer>>
  /**
   * Writes to a temp file in the same dir, fsyncs, renames over the target. Returns false (and writes
   * nothing) when content, mode (and owner, when given) are already equal. Creates parent dirs.
   */
  writeFileAtomic(path: string, data: string | Buffer, opts?: WriteOptions): Promise<boolean>
  /**
   * Several files in one round trip, each written whole (temp file, fsync, rename) with its mode,
   * parents created; none is renamed into place unless all of them arrived intact.
   */
  writeFiles(files: FileWrite[], opts?: {dirs?: string[]}): Promise<void>
  /**
   * Creates the file only if nothing is at `path` (a lock): the content appears whole, with its
   * mode, or not at all. Returns false when the path already existed (left untouched). Missing
   * parent directories are created root-only (0700): such files are osctl's own state (locks, journals).
   */
  createFile(path: string, data: string | Buffer, opts?: WriteOptions): Promise<boolean>
  /**
   * createFile, then, only when it created the file, every regular file in its directory (as
   * readDir): a lock taken and the other locks read, in one round trip where it can.
   */
  createFileAndReadDir(path: string, data: string | Buffer, opts?: WriteOptions): Promise<{created: boolean; dir?: Map<string, Buffer>}>
  /** Streamed (large OCI archives); the target appears only once the whole stream arrived intact. */
  upload(path: string, data: NodeJS.ReadableStream, opts?: WriteOptions): Promise<void>
  exists(path: string): Promise<boolean>
  /** Removes a file or a directory tree; a missing path is not an error. */
  remove(path: string): Promise<void>
  /**
   * A TCP connection opened from the host (an API on its network that this machine may not
   * reach): over SSH a forwarded channel of the host's connection, nothing opened on the host.
   */
  openTcp(address: string, port: number): Promise<Duplex>
  close(): Promise<void>
}

// Words made only of these never need quoting. '=' is left out so a quoted first word can never
// turn into a variable assignment, '~' so it is never expanded.
const SAFE_WORD = /^[A-Za-z0-9_\-+.,/:@%]+$/

/** POSIX-shell quoting: the remote shell sees exactly these words, whatever they contain. */
export function shellQuote(args: string[]): string {
  return args.map((a) => (SAFE_WORD.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ')
}

/** The command line a POSIX shell runs for exec(), including cwd and env. */
export function commandLine(command: string[] | string, opts: Pick<ExecOptions, 'env' | 'cwd'> = {}): string {
  const argv = typeof command === 'string' ? ['sh', '-c', command] : command
  if (argv.length === 0) throw new OsctlError('INTERNAL', 'exec() called with an empty command')
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new OsctlError('INTERNAL', `invalid environment variable name: ${k}`)
    return `${k}=${v}`
  })
  const line = shellQuote(env.length > 0 ? ['env', ...env, ...argv] : argv)
  return opts.cwd ? `cd ${shellQuote([opts.cwd])} && ${line}` : line
}

/** How a command is shown in messages: what the user would type, cut short for long scripts. */
export function describeCommand(command: string[] | string): string {
  const text = typeof command === 'string' ? command : shellQuote(command)
  const oneLine = text.replaceAll('\n', '⏎ ')
  return oneLine.length > 200 ? `${oneLine.slice(0, 197)}...` : oneLine
}

export function tailLines(text: string, n = 20): string[] {
  const lines = text.replace(/\n+$/, '').split('\n')
  return lines.length === 1 && lines[0] === '' ? [] : lines.slice(-n)
}

export function commandFailed(host: string, command: string[] | string, r: ExecResult): OsctlError {
  const how = r.signal ? `was killed by ${r.signal}` : `exited with ${r.exitCode}`
  const tail = tailLines(r.stderr)
  const body = tail.length > 0 ? `\n${tail.map((l) => `  ${l}`).join('\n')}` : ''
  return new OsctlError('COMMAND_FAILED', `${host}: \`${describeCommand(command)}\` ${how}${body}`, {
    hint: tail.length > 0 ? undefined : 'the command printed nothing on stderr; run it by hand on the host to see why',
    details: {host, command, exitCode: r.exitCode, signal: r.signal, stderr: tail},
  })
}

export function commandTimedOut(host: string, command: string[] | string, timeoutMs: number): OsctlError {
  return new OsctlError('TIMEOUT', `${host}: \`${describeCommand(command)}\` timed out after ${formatMs(timeoutMs)}`, {
    hint: 'the command was killed; raise the timeout if the host is just slow',
    details: {host, command, timeoutMs},
  })
}

export function fileMissing(host: string, path: string): OsctlError {
  return new OsctlError('COMMAND_FAILED', `${host}:${path}: no such file`, {details: {host, path}})
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`
}

/** Shell convention (128 + signo) so callers can test `exitCode !== 0` whatever killed the process. */
export function signalExitCode(signal: string): number {
  const n = (osConstants.signals as Record<string, number | undefined>)[signal]
  return n === undefined ? 255 : 128 + n
}

/** Modes are compared as `stat -c %a` prints them. */
export function modeString(mode: number): string {
  return (mode & 0o7777).toString(8)
}

/** "user:group" or "user" against what `stat -c %U:%G` printed. */
export function ownerMatches(wanted: string | undefined, actual: string): boolean {
  if (wanted === undefined) return true
  return wanted.includes(':') ? wanted === actual : actual.split(':')[0] === wanted
}

/** The host's sshd forbids TCP forwarding (AllowTcpForwarding no, DisableForwarding): no retry mends it. */
export function tcpProhibited(host: string, address: string, port: number): OsctlError {
  return new OsctlError('COMMAND_FAILED', `${host}: its sshd does not allow TCP forwarding, which osctl needs to reach ${address}:${port} from the host`, {
    details: {host, address, port, prohibited: true},
    hint: "set `AllowTcpForwarding local` (or yes) in the host's sshd_config and reload sshd: osctl's keystone registrations connect from the host through it",
  })
}

/** A TCP connection the host could not open (nothing listens there, or its network refused it). */
export function tcpRefused(host: string, address: string, port: number, err: unknown): OsctlError {
  return new OsctlError('COMMAND_FAILED', `${host}: cannot connect to ${address}:${port} from the host: ${err instanceof Error ? err.message : String(err)}`, {
    details: {host, address, port},
    hint: 'check that the service there is up and listening on that address',
  })
}
