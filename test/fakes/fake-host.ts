import {createHash} from 'node:crypto'
import {BaseHost} from '../../src/hosts/base-host.js'
import {posix} from 'node:path'
import type {Duplex, Readable} from 'node:stream'
import {setTimeout as sleep} from 'node:timers/promises'

import {OsctlError} from '../../src/errors.js'
import {
  type ExecOptions, type ExecResult, type WriteOptions, commandTimedOut, modeString,
  ownerMatches, shellQuote, tcpRefused,
} from '../../src/hosts/host.js'

/** One exec() the fake received, as a test would want to assert on it. */
export interface FakeCall {
  /** argv commands joined with shell quoting; string commands verbatim (not wrapped in `sh -c`). */
  line: string
  /** Set for argv commands. */
  argv?: string[]
  input?: string
  env?: Record<string, string>
  cwd?: string
}

export type FakeReply = Partial<ExecResult> | string | void
export type FakeHandler = (call: FakeCall, host: FakeHost) => FakeReply | Promise<FakeReply>

export interface FakeFile {
  data: Buffer
  mode: number
  owner?: string
}

/**
 * In-memory Host for unit tests. Commands are answered by handlers registered with on(); an
 * unhandled command exits 127 like a shell would, so a test never passes by accident.
 * Kept honest by the host contract (test/integration/hosts/host-contract.ts).
 */
export class FakeHost extends BaseHost {
  readonly calls: FakeCall[] = []
  readonly files = new Map<string, FakeFile>()
  /** Directories the fake made itself (createFile's root-only parents), path → mode; others exist only through their files. */
  readonly dirs = new Map<string, number>()
  /** File operations in order: `write /p`, `upload /p`, `remove /p`; skipped writes are not listed. */
  readonly ops: string[] = []
  /** When true every operation fails with HOST_UNREACHABLE, as an SshHost to a dead host would. */
  down = false
  closed = false
  private readonly handlers: Array<{pattern: RegExp | string; handler: FakeHandler}> = []

  constructor(
    readonly name = 'fake-1',
    readonly address = '192.0.2.1',
  ) {
    super()
  }

  /** Later registrations win, so a test can override a default set up in beforeEach. */
  on(pattern: RegExp | string, handler: FakeHandler): this {
    this.handlers.unshift({pattern, handler})
    return this
  }

  /** Like on(), with the handler that answered such commands until now as `next` (to wrap it: delay, count, log). */
  around(pattern: RegExp | string, handler: (call: FakeCall, host: FakeHost, next: () => FakeReply | Promise<FakeReply>) => FakeReply | Promise<FakeReply>): this {
    const before = [...this.handlers]
    return this.on(pattern, (call, host) => {
      const prev = before.find((h) => matches(h.pattern, call.line))
      const argv0 = call.argv?.[0] ?? call.line.split(' ')[0]
      return handler(call, host, () => (prev ? prev.handler(call, host) : {exitCode: 127, stderr: `sh: 1: ${argv0}: not found\n`}))
    })
  }

  /** Like on(), for the first matching command only; later ones go to the handlers registered before it. */
  once(pattern: RegExp | string, handler: FakeHandler): this {
    const entry: {pattern: RegExp | string; handler: FakeHandler} = {
      pattern,
      handler: (call, host) => {
        this.handlers.splice(this.handlers.indexOf(entry), 1)
        return handler(call, host)
      },
    }
    this.handlers.unshift(entry)
    return this
  }

  /** Every command line run so far (see FakeCall.line). */
  get commands(): string[] {
    return this.calls.map((c) => c.line)
  }

  ran(pattern: RegExp | string): boolean {
    return this.calls.some((c) => matches(pattern, c.line))
  }

  setFile(path: string, data: string | Buffer, mode = 0o644, owner?: string): this {
    this.files.set(norm(path), {data: Buffer.from(data), mode, owner})
    return this
  }

  text(path: string): string | undefined {
    return this.files.get(norm(path))?.data.toString('utf8')
  }

  async exec(command: string[] | string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.check()
    // flock(1) runs its command once it holds the lock, which here is at once: the call is the command.
    if (Array.isArray(command) && command[0] === 'flock') command = withoutFlock(command)
    const call: FakeCall = typeof command === 'string' ? {line: command} : {line: shellQuote(command), argv: [...command]}
    if (opts.input !== undefined) call.input = Buffer.from(opts.input).toString('utf8')
    if (opts.env) call.env = {...opts.env}
    if (opts.cwd) call.cwd = opts.cwd
    this.calls.push(call)
    const entry = this.handlers.find((h) => matches(h.pattern, call.line))
    const argv0 = call.argv?.[0] ?? call.line.split(' ')[0]
    const reply = entry ? entry.handler(call, this) : {exitCode: 127, stderr: `sh: 1: ${argv0}: not found\n`}
    const settled = Promise.resolve(reply).then(normalize)
    const result = opts.timeoutMs === undefined ? await settled : await Promise.race([
      settled,
      sleep(opts.timeoutMs).then(() => {
        throw commandTimedOut(this.name, command, opts.timeoutMs!)
      }),
    ])
    if (result.stdout) opts.onStdout?.(result.stdout)
    if (result.stderr) opts.onStderr?.(result.stderr)
    return result
  }

  override async readDir(dir: string): Promise<Map<string, Buffer>> {
    this.check()
    const d = `${norm(dir)}/`
    return new Map([...this.files].filter(([k]) => k.startsWith(d) && !k.slice(d.length).includes('/')).map(([k, f]) => [k.slice(d.length), Buffer.from(f.data)]))
  }

  async readFileIfExists(path: string): Promise<Buffer | undefined> {
    this.check()
    const f = this.files.get(norm(path))
    return f ? Buffer.from(f.data) : undefined
  }

  async writeFileAtomic(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<boolean> {
    this.check()
    const p = norm(path)
    const buf = Buffer.from(data)
    const cur = this.files.get(p)
    if (cur && sha(cur.data) === sha(buf)) {
      const sameMode = opts.mode === undefined || modeString(opts.mode) === modeString(cur.mode)
      if (sameMode && ownerMatches(opts.owner, cur.owner ?? 'root:root')) return false
    }
    this.files.set(p, {data: buf, mode: opts.mode ?? cur?.mode ?? 0o644, owner: opts.owner ?? cur?.owner})
    this.ops.push(`write ${p}`)
    return true
  }

  override async createFile(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<boolean> {
    this.check()
    const p = norm(path)
    if (this.files.has(p) || [...this.files.keys()].some((k) => k.startsWith(`${p}/`))) return false
    const parent = p.replace(/\/[^/]*$/, '')
    if (parent && !this.dirs.has(parent) && ![...this.files.keys()].some((k) => k.startsWith(`${parent}/`))) this.dirs.set(parent, 0o700)
    this.files.set(p, {data: Buffer.from(data), mode: opts.mode ?? 0o644, owner: opts.owner})
    this.ops.push(`create ${p}`)
    return true
  }

  async upload(path: string, data: NodeJS.ReadableStream, opts: WriteOptions = {}): Promise<void> {
    this.check()
    const chunks: Buffer[] = []
    // Consumed fully before the file appears: a failing stream leaves nothing behind, like the real hosts.
    for await (const chunk of data as Readable) chunks.push(Buffer.from(chunk as Buffer))
    const p = norm(path)
    const cur = this.files.get(p)
    this.files.set(p, {data: Buffer.concat(chunks), mode: opts.mode ?? cur?.mode ?? 0o644, owner: opts.owner ?? cur?.owner})
    this.ops.push(`upload ${p}`)
  }

  async exists(path: string): Promise<boolean> {
    this.check()
    const p = norm(path)
    return this.files.has(p) || [...this.files.keys()].some((k) => k.startsWith(`${p}/`))
  }

  async remove(path: string): Promise<void> {
    this.check()
    const p = norm(path)
    for (const k of [...this.files.keys()]) if (k === p || k.startsWith(`${p}/`)) this.files.delete(k)
    this.ops.push(`remove ${p}`)
  }

  /** What answers a TCP connection opened from the fake to address:port (onTcp); anything else is refused. */
  private readonly listeners = new Map<string, () => Duplex | Promise<Duplex>>()

  /** Teaches the fake a listener on its network (address `*`: on any): each openTcp() to it gets a new stream from `open`. */
  onTcp(address: string, port: number, open: () => Duplex | Promise<Duplex>): this {
    this.listeners.set(`${address}:${port}`, open)
    return this
  }

  async openTcp(address: string, port: number): Promise<Duplex> {
    this.check()
    this.calls.push({line: `tcp ${address}:${port}`})
    const open = this.listeners.get(`${address}:${port}`) ?? this.listeners.get(`*:${port}`)
    if (!open) throw tcpRefused(this.name, address, port, new Error('connect ECONNREFUSED'))
    return open()
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private check(): void {
    if (this.down) {
      throw new OsctlError('HOST_UNREACHABLE', `cannot reach ${this.name} (${this.address}:22): connection refused`, {
        details: {host: this.name, address: this.address, port: 22},
      })
    }
  }
}

function matches(pattern: RegExp | string, line: string): boolean {
  return typeof pattern === 'string' ? line === pattern || line.startsWith(`${pattern} `) : pattern.test(line)
}

function normalize(reply: FakeReply): ExecResult {
  if (typeof reply === 'string') return {exitCode: 0, stdout: reply, stderr: ''}
  return {exitCode: reply?.exitCode ?? 0, stdout: reply?.stdout ?? '', stderr: reply?.stderr ?? '', ...(reply?.signal ? {signal: reply.signal} : {})}
}

function norm(path: string): string {
  const p = posix.normalize(path)
  return p.length > 1 ? p.replace(/\/$/, '') : p
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** `flock [-s|-x] [-w SECS] LOCKFILE COMMAND…` → COMMAND… */
function withoutFlock(argv: string[]): string[] {
  let i = 1
  while (argv[i]?.startsWith('-')) i += argv[i] === '-w' ? 2 : 1
  return argv.slice(i + 1)
}
