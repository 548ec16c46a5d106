import type {Duplex} from 'node:stream'

import type {Client} from 'ssh2'

import {errorMessage} from '../errors.js'

import {SshTarget, openSshConnection} from './ssh-connect.js'

/**
 * One SSH connection per target, opened on first use and forgotten when it drops, so the next use
 * reconnects. Shared by SshHost (commands, files) and SshDockerClient (the Docker socket).
 */
export class LazyConnection {
  private conn?: Promise<Client>

  constructor(private readonly target: SshTarget) {}

  /** True when a connection was opened (or is opening) and not forgotten since. */
  get opened(): boolean {
    return this.conn !== undefined
  }

  get(): Promise<Client> {
    if (!this.conn) {
      const conn = openSshConnection(this.target).then((client) => {
        const forget = () => {
          if (this.conn === conn) this.conn = undefined
        }
        client.once('close', forget)
        client.once('end', forget)
        return client
      })
      conn.catch(() => {
        if (this.conn === conn) this.conn = undefined
      })
      this.conn = conn
    }
    return this.conn
  }

  /**
   * Runs `use` on the connection. A connection kept from earlier that died silently (no 'close'
   * yet; `gone` says so from the error) is forgotten and `use` runs once more on a new one, told so
   * by `retried`. Connect errors are osctl's own (HOST_UNREACHABLE, HOST_AUTH …); `use`'s are raw.
   */
  async use<T>(use: (client: Client, retried: boolean) => Promise<T>, gone: (err: unknown) => boolean): Promise<T> {
    const reused = this.opened
    const client = await this.get()
    try {
      return await use(client, false)
    } catch (err) {
      if (!reused || !gone(err)) throw err
      this.reset()
      client.end()
      return use(await this.get(), true)
    }
  }

  /** Forgets the current connection without waiting for it (the caller ends the client it holds). */
  reset(): void {
    this.conn = undefined
  }

  /** Ends the current connection, if any; the next get() opens a new one. */
  async close(): Promise<void> {
    const conn = this.conn
    this.conn = undefined
    const client = await conn?.catch(() => undefined)
    client?.end()
  }
}

/** ssh2's errors for a connection that is gone, as opposed to a channel the live host refused. */
export const connectionGone = (err: unknown): boolean => /not connected|no response from server|connection (lost|closed)|keepalive/i.test(errorMessage(err))

/** An ssh2 channel made to look like a socket to http and tls (the socket methods they call, as no-ops). */
export function socketLike(stream: Duplex): Duplex {
  const s = stream as Duplex & Record<string, unknown>
  for (const m of ['setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref']) if (typeof s[m] !== 'function') s[m] = () => s
  return s
}
