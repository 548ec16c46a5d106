import {createHash, randomBytes} from 'node:crypto'
import {BaseHost} from './base-host.js'
import {posix} from 'node:path'
import {Transform, type Readable} from 'node:stream'
import {StringDecoder} from 'node:string_decoder'
import type {Client, ClientChannel} from 'ssh2'

import {OsctlError, errorMessage} from '../errors.js'
import {
  ExecOptions, ExecResult, WriteOptions, commandLine, commandTimedOut, modeString,
  ownerMatches, signalExitCode, tailLines,
} from './host.js'
import {EXISTS_SCRIPT, PROBE_SCRIPT, PUT_SCRIPT, READ_MANY_SCRIPT, READ_SCRIPT} from './remote-scripts.js'
import {Semaphore} from './semaphore.js'
import {LazyConnection} from './lazy-connection.js'
import {SshTarget, where} from './ssh-connect.js'

export type {SshTarget} from './ssh-connect.js'

// OpenSSH allows 10 sessions per connection (MaxSessions); stay below so callers never see
// "channel open failure" however many commands they start at once.
const MAX_CHANNELS = 8

interface RawOptions extends Omit<ExecOptions, 'input'> {
  input?: Buffer | Readable
}
interface RawResult {
  exitCode: number
  stdout: Buffer
  stderr: Buffer
  signal?: string
}

/** A host driven over one reused SSH connection (ssh2), opened on first use. */
export class SshHost extends BaseHost {
  readonly name: string
  readonly address: string
  private readonly conn: LazyConnection
  private readonly channels = new Semaphore(MAX_CHANNELS)

  constructor(readonly target: SshTarget) {
    super()
    this.conn = new LazyConnection(target)
    this.name = target.name
    this.address = target.address
  }

  async exec(command: string[] | string, opts: ExecOptions = {}): Promise<ExecResult> {
    const {input, ...rest} = opts
    const r = await this.execRaw(commandLine(command, opts), command, {...rest, input: input === undefined ? undefined : Buffer.from(input)})
    const result: ExecResult = {exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8')}
    if (r.signal) result.signal = r.signal
    return result
  }

  async readFileIfExists(path: string): Promise<Buffer | undefined> {
    const r = await this.script(READ_SCRIPT, [path], `cat ${path}`)
    if (r.exitCode === 44) return undefined
    if (r.exitCode !== 0) throw this.fileError('read', path, r)
    return r.stdout
  }

  override async readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>> {
    const out = new Map<string, Buffer | undefined>()
    if (paths.length === 0) return out
    const r = await this.script(READ_MANY_SCRIPT, paths, `read ${paths.length} files`)
    if (r.exitCode !== 0) throw this.fileError('read', paths.join(' '), r)
    let at = 0
    for (const p of paths) {
      const nl = r.stdout.indexOf(0x0a, at)
      const head = r.stdout.subarray(at, nl).toString('utf8')
      if (nl < 0 || (head !== '-' && !/^\d+$/.test(head))) throw this.fileError('read', p, {...r, stderr: Buffer.from('unexpected output from the batch read')})
      at = nl + 1
      if (head === '-') out.set(p, undefined)
      else {
        out.set(p, r.stdout.subarray(at, at + Number(head)))
        at += Number(head)
      }
    }
    return out
  }

  async writeFileAtomic(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<boolean> {
    const buf = Buffer.from(data)
    const sum = createHash('sha256').update(buf).digest('hex')
    const probe = await this.script(PROBE_SCRIPT, [path], `stat ${path}`)
    if (probe.exitCode !== 0) throw this.fileError('inspect', path, probe)
    const [hash, stat] = probe.stdout.toString('utf8').trim().split('\n')
    let mode = opts.mode === undefined ? '644' : modeString(opts.mode)
    if (hash !== 'absent') {
      const [curMode, curOwner] = (stat ?? '').split(' ')
      if (hash === sum && (opts.mode === undefined || mode === curMode) && ownerMatches(opts.owner, curOwner ?? '')) return false
      // Replacing a file keeps its mode unless told otherwise (a 0600 secret must not become 0644).
      if (opts.mode === undefined && curMode) mode = curMode
    }
    const r = await this.script(PUT_SCRIPT, ['both', path, tempName(path), mode, opts.owner ?? '', String(buf.length), sum], `write ${path}`, buf)
    if (r.exitCode !== 0) throw this.fileError('write', path, r)
    return true
  }

  async upload(path: string, data: NodeJS.ReadableStream, opts: WriteOptions = {}): Promise<void> {
    const tmp = tempName(path)
    const hash = createHash('sha256')
    let size = 0
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk)
        size += chunk.length
        cb(null, chunk)
      },
    })
    const source = data as Readable
    source.on('error', (err) => counter.destroy(err))
    // The stream may fail before the channel is open; execRaw sees that through `errored`.
    counter.on('error', () => undefined)
    source.pipe(counter)
    try {
      const recv = await this.script(PUT_SCRIPT, ['receive', path, tmp, '', '', '', ''], `upload ${path}`, counter)
      if (recv.exitCode !== 0) throw this.fileError('upload', path, recv)
      let mode = opts.mode === undefined ? undefined : modeString(opts.mode)
      if (mode === undefined) {
        const cur = await this.script('exec stat -L -c %a -- "$1" 2>/dev/null || echo 644', [path], `stat ${path}`)
        mode = cur.stdout.toString('utf8').trim() || '644'
      }
      const args = ['commit', path, tmp, mode, opts.owner ?? '', String(size), hash.digest('hex')]
      const commit = await this.script(PUT_SCRIPT, args, `upload ${path}`)
      if (commit.exitCode !== 0) throw this.fileError('upload', path, commit)
    } catch (err) {
      // Best effort: the connection may be what failed.
      await this.script('rm -f -- "$1"', [tmp], `rm ${tmp}`).catch(() => undefined)
      throw err
    }
  }

  async exists(path: string): Promise<boolean> {
    const r = await this.script(EXISTS_SCRIPT, [path], `test -e ${path}`)
    if (r.exitCode > 1) throw this.fileError('inspect', path, r)
    return r.exitCode === 0
  }

  async remove(path: string): Promise<void> {
    const r = await this.execRaw(commandLine(['rm', '-rf', '--', path]), `rm -rf ${path}`, {})
    if (r.exitCode !== 0) throw this.fileError('remove', path, r)
  }

  /** The host's one SSH connection, for whatever else must go over it (the Docker socket). */
  get connection(): LazyConnection {
    return this.conn
  }

  async close(): Promise<void> {
    await this.conn.close()
  }

  private script(body: string, args: string[], shown: string, input?: Buffer | Readable): Promise<RawResult> {
    return this.execRaw(commandLine(['sh', '-c', body, 'osctl', ...args]), shown, {input})
  }

  private fileError(what: string, path: string, r: RawResult): OsctlError {
    const stderr = tailLines(r.stderr.toString('utf8'))
    return new OsctlError('COMMAND_FAILED', `${this.name}:${path}: cannot ${what} (exit ${r.exitCode})${stderr.map((l) => `\n  ${l}`).join('')}`, {
      details: {host: this.name, path, exitCode: r.exitCode, stderr},
    })
  }

  /** Opens an exec channel; a connection that died silently (no 'close' yet) is replaced once. */
  private async openChannel(line: string): Promise<ClientChannel> {
    const reused = this.conn.opened
    const client = await this.conn.get()
    try {
      return await channelOnRetrying(client, line)
    } catch (err) {
      if (!reused || !/not connected|no response|socket|closed/i.test(errorMessage(err))) throw this.lost(err, line)
      this.conn.reset()
      client.end()
      return channelOn(await this.conn.get(), line).catch((again: unknown) => {
        throw this.lost(again, line)
      })
    }
  }

  private lost(err: unknown, shown: string): OsctlError {
    return new OsctlError('HOST_UNREACHABLE', `lost connection to ${where(this.target)} while running \`${shown.slice(0, 200)}\`: ${errorMessage(err)}`, {
      cause: err,
      hint: 'check that the host is still up; the command may or may not have run',
    })
  }

  private execRaw(line: string, shown: string[] | string, opts: RawOptions): Promise<RawResult> {
    return this.channels.use(async () => {
      const ch = await this.openChannel(line)
      return new Promise<RawResult>((resolve, reject) => {
        const out: Buffer[] = []
        const err: Buffer[] = []
        let settled = false
        const settle = (fn: () => void) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          fn()
        }
        collect(ch, out, opts.onStdout)
        collect(ch.stderr, err, opts.onStderr)
        let inputError: unknown
        const text = typeof shown === 'string' ? shown : shown.join(' ')
        ch.on('close', () =>
          settle(() => {
            const {code: exitCode, signal} = exits.get(ch) ?? {}
            if (inputError !== undefined) reject(new OsctlError('COMMAND_FAILED', `${this.name}: reading the input for \`${text}\` failed: ${errorMessage(inputError)}`, {cause: inputError}))
            else if (exitCode === undefined && signal === undefined) reject(this.lost('channel closed without an exit status', text))
            else resolve({exitCode: exitCode ?? signalExitCode(signal!), stdout: Buffer.concat(out), stderr: Buffer.concat(err), ...(signal ? {signal} : {})})
          }),
        )
        const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => settle(() => {
          try {
            ch.signal('KILL')
          } catch {
            // older servers ignore signal requests; closing the channel is what matters
          }
          ch.close()
          reject(commandTimedOut(this.name, shown, opts.timeoutMs!))
        }), opts.timeoutMs)
        const input = opts.input
        if (input === undefined || Buffer.isBuffer(input)) ch.end(input)
        else {
          // Send EOF and let the remote side finish before failing, so the caller's cleanup (rm of
          // the temp file) cannot race with a still-running receiver.
          const failed = (e: unknown) => {
            inputError ??= e
            input.unpipe(ch)
            ch.end()
          }
          if (input.errored) failed(input.errored)
          else {
            input.once('error', failed)
            input.pipe(ch)
          }
        }
      })
    })
  }
}

/**
 * sshd frees a session slot (MaxSessions) a moment after the channel's close reaches us, so a burst
 * of short commands can see a transient "open failed": wait a little and try again.
 */
async function channelOnRetrying(client: Client, line: string): Promise<ClientChannel> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await channelOn(client, line)
    } catch (err) {
      if (attempt >= 6 || !/Channel open failure/i.test(errorMessage(err))) throw err
      await new Promise((r) => setTimeout(r, 25 * 2 ** attempt))
    }
  }
}

/**
 * Exit status per channel, recorded from inside the exec callback: a fast command's exit-status can
 * arrive in the same packet as the exec confirmation, before any awaiting code could listen.
 */
const exits = new WeakMap<ClientChannel, {code?: number; signal?: string}>()

function channelOn(client: Client, line: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      client.exec(line, (err, ch) => {
        if (err) return reject(err)
        const status: {code?: number; signal?: string} = {}
        exits.set(ch, status)
        ch.on('exit', (code: number | null, sig?: string) => {
          if (typeof code === 'number') status.code = code
          else if (sig) status.signal = sig.startsWith('SIG') ? sig : `SIG${sig}`
        })
        resolve(ch)
      })
    } catch (err) {
      reject(err)
    }
  })
}

function collect(stream: Readable, chunks: Buffer[], sink?: (chunk: string) => void): void {
  // One decoder per stream so a multi-byte character split across packets arrives whole.
  const decoder = sink ? new StringDecoder('utf8') : undefined
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    const text = decoder?.write(chunk)
    if (text) sink!(text)
  })
  stream.on('end', () => {
    const rest = decoder?.end()
    if (rest) sink!(rest)
  })
}

function tempName(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.osctl-${randomBytes(6).toString('hex')}`)
}
