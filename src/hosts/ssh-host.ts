import {createHash, randomBytes} from 'node:crypto'
import {BaseHost} from './base-host.js'
import {posix} from 'node:path'
import {PassThrough, Transform, type Duplex, type Readable} from 'node:stream'
import type {ClientChannel} from 'ssh2'

import {trace} from '../cli/trace.js'
import {OsctlError, errorMessage, isOsctlError} from '../errors.js'
import {ExecOptions, ExecResult, FileWrite, WriteOptions, commandLine, modeString, ownerMatches, tailLines, tcpProhibited, tcpRefused} from './host.js'
import {CREATE_AND_READ_DIR_SCRIPT, CREATE_SCRIPT, EXISTS_SCRIPT, PROBE_SCRIPT, PUT_SCRIPT, READ_DIR_SCRIPT, READ_MANY_SCRIPT, READ_SCRIPT, WRITE_MANY_SCRIPT} from './remote-scripts.js'
import {Semaphore} from './semaphore.js'
import {RawOptions, RawResult, channelOn, channelOnRetrying, runChannel} from './ssh-exec.js'
import {LazyConnection, connectionGone, socketLike} from './lazy-connection.js'
import {SshTarget, where} from './ssh-connect.js'

export type {SshTarget} from './ssh-connect.js'

// OpenSSH allows 10 sessions per connection (MaxSessions); stay below so callers never see
// "channel open failure" however many commands they start at once.
const MAX_CHANNELS = 8


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
    const {input, holdStdin, ...rest} = opts
    const held = holdStdin && input === undefined ? new PassThrough() : undefined
    const r = await this.execRaw(commandLine(command, opts), command, {...rest, input: held ?? (input === undefined ? undefined : Buffer.from(input))}).finally(() => held?.destroy())
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

  override async readDir(dir: string): Promise<Map<string, Buffer>> {
    const r = await this.script(READ_DIR_SCRIPT, [dir], `read ${dir}/*`)
    if (r.exitCode !== 0) throw this.fileError('read', dir, r)
    return this.dirListing(dir, r)
  }

  /** One command: CREATE_SCRIPT, then READ_DIR_SCRIPT on the file's directory when it created the file. */
  override async createFileAndReadDir(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<{created: boolean; dir?: Map<string, Buffer>}> {
    const r = await this.create(CREATE_AND_READ_DIR_SCRIPT, path, data, opts, `create ${path}, read ${posix.dirname(path)}/*`)
    return r ? {created: true, dir: this.dirListing(posix.dirname(path), r)} : {created: false}
  }

  /** READ_DIR_SCRIPT's output: `<name>\n<size>\n<bytes>` per file. */
  private dirListing(dir: string, r: RawResult): Map<string, Buffer> {
    const out = new Map<string, Buffer>()
    let at = 0
    while (at < r.stdout.length) {
      const nl1 = r.stdout.indexOf(0x0a, at)
      const nl2 = nl1 < 0 ? -1 : r.stdout.indexOf(0x0a, nl1 + 1)
      const size = nl2 < 0 ? NaN : Number(r.stdout.subarray(nl1 + 1, nl2).toString('utf8'))
      if (!Number.isInteger(size) || nl2 + 1 + size > r.stdout.length) throw this.fileError('read', dir, {...r, stderr: Buffer.from('unexpected output from the directory read')})
      out.set(r.stdout.subarray(at, nl1).toString('utf8'), r.stdout.subarray(nl2 + 1, nl2 + 1 + size))
      at = nl2 + 1 + size
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

  /** One command (CREATE_SCRIPT) instead of the probe, write and link of BaseHost's. */
  override async createFile(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<boolean> {
    return (await this.create(CREATE_SCRIPT, path, data, opts, `create ${path}`)) !== undefined
  }

  /** CREATE_SCRIPT's arguments and stdin for `script` (it or a script that begins with it); undefined: the path already existed. */
  private async create(script: string, path: string, data: string | Buffer, opts: WriteOptions, label: string): Promise<RawResult | undefined> {
    const buf = Buffer.from(data)
    const sum = createHash('sha256').update(buf).digest('hex')
    const r = await this.script(script, [path, tempName(path), modeString(opts.mode ?? 0o644), opts.owner ?? '', String(buf.length), sum], label, buf)
    if (r.exitCode === 17) return undefined
    if (r.exitCode !== 0) throw this.fileError('create', path, r)
    return r
  }

  override async writeFiles(files: FileWrite[], {dirs = []}: {dirs?: string[]} = {}): Promise<void> {
    if (files.length === 0 && dirs.length === 0) return
    const data = files.map((f) => Buffer.from(f.data))
    const all = Buffer.concat(data)
    const args = [createHash('sha256').update(all).digest('hex'), String(dirs.length), ...dirs, ...files.flatMap((f, i) => [f.path, modeString(f.mode), String(data[i].length)])]
    const r = await this.script(WRITE_MANY_SCRIPT, args, `write ${files.length} files`, all)
    if (r.exitCode !== 0) throw this.fileError('write', files.map((f) => f.path).join(' '), r)
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

  /**
   * A direct-tcpip channel of the host's connection (sshd's AllowTcpForwarding, on by default): the
   * host connects, nothing listens anywhere. A connection that died silently is replaced once.
   */
  async openTcp(address: string, port: number): Promise<Duplex> {
    trace(`tcp ${this.name}: ${address}:${port}`)
    // sshd's answer to the channel open (ssh2 gives it a numeric reason): the host was asked and said no.
    let refused: (Error & {reason?: number}) | undefined
    try {
      return await this.conn.use(
        (client) =>
          new Promise<Duplex>((resolve, reject) => {
            try {
              client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => {
                if (err) {
                  if (typeof (err as {reason?: unknown}).reason === 'number') refused = err
                  reject(err)
                  return
                }
                // http and tls treat it as a socket.
                resolve(socketLike(stream as unknown as Duplex))
              })
            } catch (err) {
              // ssh2 throws "Not connected" synchronously when the socket is already gone.
              reject(err)
            }
          }),
        (err) => err !== refused && (connectionGone(err) || /socket/i.test(errorMessage(err))),
      )
    } catch (err) {
      if (isOsctlError(err)) throw err
      if (refused === undefined || err !== refused) throw this.lost(err, `connect ${address}:${port}`)
      // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
      throw refused.reason === 1 ? tcpProhibited(this.name, address, port) : tcpRefused(this.name, address, port, err)
    }
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
  private openChannel(line: string): Promise<ClientChannel> {
    return this.conn
      .use((client, retried) => (retried ? channelOn : channelOnRetrying)(client, line), (err) => /not connected|no response|socket|closed/i.test(errorMessage(err)))
      .catch((err: unknown) => {
        throw isOsctlError(err) ? err : this.lost(err, line)
      })
  }

  private lost(err: unknown, shown: string): OsctlError {
    return new OsctlError('HOST_UNREACHABLE', `lost connection to ${where(this.target)} while running \`${shown.slice(0, 200)}\`: ${errorMessage(err)}`, {
      cause: err,
      hint: 'check that the host is still up; the command may or may not have run',
    })
  }

  private execRaw(line: string, shown: string[] | string, opts: RawOptions): Promise<RawResult> {
    trace(`exec ${this.name}: ${(Array.isArray(shown) ? shown.join(' ') : shown).slice(0, 80)}`)
    return this.channels.use(async () => runChannel(await this.openChannel(line), shown, opts, {host: this.name, lost: (err, text) => this.lost(err, text)}))
  }
}

function tempName(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.osctl-${randomBytes(6).toString('hex')}`)
}
