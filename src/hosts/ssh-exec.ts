import type {Readable} from 'node:stream'
import {StringDecoder} from 'node:string_decoder'
import type {Client, ClientChannel} from 'ssh2'

import {OsctlError, errorMessage} from '../errors.js'
import {ExecOptions, commandTimedOut, signalExitCode} from './host.js'

export interface RawOptions extends Omit<ExecOptions, 'input'> {
  input?: Buffer | Readable
}

export interface RawResult {
  exitCode: number
  stdout: Buffer
  stderr: Buffer
  signal?: string
}

/**
 * One command on an open exec channel: output collected (and streamed to onStdout/onStderr), input
 * fed, timeout enforced (the remote process is killed), exit status or signal returned.
 */
export function runChannel(ch: ClientChannel, shown: string[] | string, opts: RawOptions, where: {host: string; lost: (err: unknown, text: string) => OsctlError}): Promise<RawResult> {
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
        if (inputError !== undefined) reject(new OsctlError('COMMAND_FAILED', `${where.host}: reading the input for \`${text}\` failed: ${errorMessage(inputError)}`, {cause: inputError}))
        else if (exitCode === undefined && signal === undefined) reject(where.lost('channel closed without an exit status', text))
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
      reject(commandTimedOut(where.host, shown, opts.timeoutMs!))
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
}

/**
 * sshd frees a session slot (MaxSessions) a moment after the channel's close reaches us, so a burst
 * of short commands can see a transient "open failed": wait a little and try again.
 */
export async function channelOnRetrying(client: Client, line: string): Promise<ClientChannel> {
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

export function channelOn(client: Client, line: string): Promise<ClientChannel> {
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
