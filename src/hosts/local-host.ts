import {createHash, randomBytes} from 'node:crypto'
import {BaseHost} from './base-host.js'
import {createWriteStream} from 'node:fs'
import {chmod, mkdir, open, readFile, rename, rm, stat, lstat} from 'node:fs/promises'
import {connect} from 'node:net'
import {basename, dirname, join} from 'node:path'
import {Readable, type Duplex} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {StringDecoder} from 'node:string_decoder'
import {execa} from 'execa'

import {OsctlError} from '../errors.js'
import {
  ExecOptions, ExecResult, WriteOptions, commandTimedOut, modeString, ownerMatches,
  signalExitCode, tcpRefused,
} from './host.js'

// Commands run in their own process group so a timeout can kill the whole tree (a `sh -c` child
// would otherwise keep stdout open); the group is also killed if osctl itself exits.
const liveGroups = new Set<number>()
let exitHookInstalled = false
function trackGroup(pid: number): void {
  liveGroups.add(pid)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const g of liveGroups) killGroup(g)
  })
}
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** The machine osctl runs on, driven through execa and node:fs. */
export class LocalHost extends BaseHost {
  readonly name: string
  readonly address = 'localhost'

  constructor(name = 'localhost') {
    super()
    this.name = name
  }

  async exec(command: string[] | string, opts: ExecOptions = {}): Promise<ExecResult> {
    const [file, ...args] = typeof command === 'string' ? ['sh', '-c', command] : command
    if (file === undefined) throw new OsctlError('INTERNAL', 'exec() called with an empty command')
    const child = execa(file, args, {
      reject: false,
      detached: true,
      encoding: 'buffer',
      stripFinalNewline: false,
      input: opts.input === undefined ? undefined : Buffer.from(opts.input),
      stdin: opts.input === undefined ? (opts.holdStdin ? 'pipe' : 'ignore') : undefined,
      env: opts.env,
      cwd: opts.cwd,
    })
    if (child.pid !== undefined) trackGroup(child.pid)
    stream(child.stdout, opts.onStdout)
    stream(child.stderr, opts.onStderr)
    let timedOut = false
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true
      if (child.pid !== undefined) killGroup(child.pid)
    }, opts.timeoutMs)
    const r = await child
    child.stdin?.destroy()
    clearTimeout(timer)
    if (child.pid !== undefined) liveGroups.delete(child.pid)
    if (timedOut) throw commandTimedOut(this.name, command, opts.timeoutMs!)
    if (r.failed && r.exitCode === undefined && r.signal === undefined) {
      // spawn itself failed (ENOENT …): report it like a shell would rather than throwing
      return {exitCode: 127, stdout: '', stderr: `${file}: ${r.shortMessage}\n`}
    }
    const result: ExecResult = {
      exitCode: r.exitCode ?? signalExitCode(r.signal ?? ''),
      stdout: Buffer.from(r.stdout as Uint8Array).toString('utf8'),
      stderr: Buffer.from(r.stderr as Uint8Array).toString('utf8'),
    }
    if (r.signal) result.signal = r.signal
    return result
  }

  async readFileIfExists(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw this.fsError('read', path, err)
    }
  }

  /** Like SshHost's batch read: only regular files count, a directory reads as missing. */
  override async readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>> {
    const data = await Promise.all(paths.map((p) => this.readFileIfExists(p).catch((err: unknown) => {
      if ((err as {cause?: NodeJS.ErrnoException}).cause?.code === 'EISDIR') return undefined
      throw err
    })))
    return new Map(paths.map((p, i) => [p, data[i]]))
  }

  async writeFileAtomic(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<boolean> {
    const buf = Buffer.from(data)
    const current = await this.describeFile(path, opts.owner !== undefined)
    if (current && current.sha256 === sha256(buf) && unchanged(current, opts)) return false
    await this.replace(path, opts.mode ?? current?.mode ?? 0o644, opts.owner, async (tmp) => {
      const fh = await open(tmp, 'wx', 0o600)
      try {
        await fh.writeFile(buf)
        await fh.sync()
      } finally {
        await fh.close()
      }
    })
    return true
  }

  async upload(path: string, data: NodeJS.ReadableStream, opts: WriteOptions = {}): Promise<void> {
    const current = await lstat(path).catch(() => undefined)
    await this.replace(path, opts.mode ?? (current ? current.mode & 0o7777 : 0o644), opts.owner, async (tmp) => {
      await pipeline(data as Readable, createWriteStream(tmp, {flags: 'wx', mode: 0o600}))
      const fh = await open(tmp, 'r+')
      await fh.sync().finally(() => fh.close())
    })
  }

  async exists(path: string): Promise<boolean> {
    return lstat(path).then(() => true, () => false)
  }

  async remove(path: string): Promise<void> {
    await rm(path, {recursive: true, force: true}).catch((err) => {
      throw this.fsError('remove', path, err)
    })
  }

  openTcp(address: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = connect({host: address, port})
      const refused = (err: Error) => reject(tcpRefused(this.name, address, port, err))
      socket.once('error', refused)
      socket.once('connect', () => {
        socket.off('error', refused)
        resolve(socket)
      })
    })
  }

  async close(): Promise<void> {}

  /** Temp file in the target's directory, so the rename is atomic; removed again on any failure. */
  private async replace(path: string, mode: number, owner: string | undefined, fill: (tmp: string) => Promise<void>) {
    const dir = dirname(path)
    const tmp = join(dir, `.${basename(path)}.osctl-${randomBytes(6).toString('hex')}`)
    try {
      await mkdir(dir, {recursive: true})
      await fill(tmp)
      await chmod(tmp, mode)
      if (owner) await this.run(['chown', '--', owner, tmp])
      await rename(tmp, path)
    } catch (err) {
      await rm(tmp, {force: true})
      throw err instanceof OsctlError ? err : this.fsError('write', path, err)
    }
    // Make the rename itself durable, not just the data.
    const dh = await open(dir, 'r').catch(() => undefined)
    await dh?.sync().catch(() => undefined)
    await dh?.close()
  }

  private async describeFile(path: string, withOwner: boolean): Promise<{sha256: string; mode: number; owner: string} | undefined> {
    const data = await this.readFileIfExists(path)
    if (data === undefined) return undefined
    const s = await stat(path)
    // Names, not ids, because WriteOptions.owner is "user:group"; only asked for when it matters.
    const owner = withOwner ? (await this.run(['stat', '-c', '%U:%G', '--', path])).trim() : ''
    return {sha256: sha256(data), mode: s.mode & 0o7777, owner}
  }

  private fsError(what: string, path: string, err: unknown): OsctlError {
    const e = err as NodeJS.ErrnoException
    return new OsctlError('COMMAND_FAILED', `${this.name}:${path}: cannot ${what}: ${e.code ?? ''} ${e.message}`.trim(), {cause: err})
  }
}

function unchanged(current: {mode: number; owner: string}, opts: WriteOptions): boolean {
  return (opts.mode === undefined || modeString(opts.mode) === modeString(current.mode)) && ownerMatches(opts.owner, current.owner)
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

function stream(source: Readable | null | undefined, sink?: (chunk: string) => void): void {
  if (!source || !sink) return
  // One decoder per stream so a multi-byte character split across chunks arrives whole.
  const decoder = new StringDecoder('utf8')
  source.on('data', (chunk: Buffer) => {
    const text = decoder.write(chunk)
    if (text) sink(text)
  })
  source.on('end', () => {
    const rest = decoder.end()
    if (rest) sink(rest)
  })
}
