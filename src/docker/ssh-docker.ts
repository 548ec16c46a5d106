import {Agent, type AgentOptions} from 'node:http'
import type {Duplex} from 'node:stream'
import {inspect} from 'node:util'

import type {Client} from 'ssh2'

import {OsctlError, errorMessage, isOsctlError} from '../errors.js'
import {LazyConnection, connectionGone, socketLike} from '../hosts/lazy-connection.js'
import {SshTarget, where} from '../hosts/ssh-connect.js'
import type {SshHost} from '../hosts/ssh-host.js'
import {DockerodeClient} from './docker-client.js'

const DOCKER_SOCKET = '/var/run/docker.sock'

/** The forwarded streams open on each SSH connection, failed together when it closes. */
const STREAMS = new WeakMap<Client, Set<{stream: Duplex; lost: (err: unknown) => OsctlError}>>()


/**
 * An http.Agent whose every connection is a stream-local forward to the host's Docker socket over
 * one SSH connection (ssh2 `openssh_forwardOutStreamLocal`). No TCP port is opened on the host and
 * nothing but sshd is needed there; the host key policy is the one every SshHost uses.
 */
class SshSocketAgent extends Agent {
  private readonly conn: LazyConnection

  constructor(
    private readonly target: SshTarget,
    private readonly socketPath: string,
    /** The host's SSH connection (SshHost.connection), shared, not owned: the host closes it. */
    conn: LazyConnection,
    options: AgentOptions = {},
  ) {
    // No keep-alive: each request gets its own channel, which closes when the response ends,
    // so hijacked streams (exec, attach) and plain requests never share a channel.
    super({...options, keepAlive: false})
    this.conn = conn
  }

  override createConnection(_options: unknown, callback?: (err: Error | null, socket: Duplex) => void): Duplex | undefined {
    this.open().then(
      (s) => callback?.(null, s),
      (err: unknown) => callback?.(err as Error, undefined as never),
    )
    return undefined
  }

  /**
   * A stream to the Docker socket. A shared connection that died silently (no 'close' seen yet) is
   * replaced once; a host that is gone is HOST_UNREACHABLE (exit 5), as for its commands, and only
   * a live host that refuses the forward is DOCKER_UNAVAILABLE.
   */
  private open(): Promise<Duplex> {
    return this.conn.use((client) => this.forward(client), connectionGone).catch((err: unknown) => {
      throw isOsctlError(err) ? err : connectionGone(err) ? this.lost(err) : this.forwardError(err)
    })
  }

  private forward(client: Client): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      try {
        client.openssh_forwardOutStreamLocal(this.socketPath, (err, stream) => (err ? reject(err) : resolve(this.adopt(client, stream as unknown as Duplex))))
      } catch (err) {
        // ssh2 throws "Not connected" synchronously when the socket is already gone.
        reject(err)
      }
    })
  }

  /**
   * Makes the channel look like a socket to http, and fails it with HOST_UNREACHABLE when the SSH
   * connection drops under it: a request in flight to a host that lost power is that host's loss,
   * not an HTTP "socket hang up".
   */
  private adopt(client: Client, stream: Duplex): Duplex {
    const s = socketLike(stream)
    let open = STREAMS.get(client)
    if (!open) {
      const streams = new Set<{stream: Duplex; lost: (err: unknown) => OsctlError}>()
      open = streams
      STREAMS.set(client, streams)
      client.once('close', () => {
        // ssh2's Channel.destroy() takes no error, so the error is emitted: http hands it to the
        // request (and then ignores the channel's end, which would be "socket hang up").
        for (const o of streams) if (o.stream.listenerCount('error') > 0) o.stream.emit('error', o.lost(new Error('the SSH connection closed')))
        streams.clear()
      })
    }
    const entry = {stream: s, lost: (err: unknown) => this.lost(err)}
    open.add(entry)
    s.once('close', () => open.delete(entry))
    return s
  }

  close(): void {
    this.destroy()
  }

  /**
   * docker-modem 5 formats every request's options with util.inspect (showHidden, unlimited depth)
   * whether or not its debug output is on; this agent would drag the whole SSH connection into it
   * (a third of a no-op deploy's CPU time). It prints as one short line instead.
   */
  [inspect.custom](): string {
    return `SshSocketAgent(${where(this.target)}:${this.socketPath})`
  }

  private lost(err: unknown): OsctlError {
    return new OsctlError('HOST_UNREACHABLE', `lost the SSH connection to ${where(this.target)} while talking to its Docker engine: ${errorMessage(err)}`, {
      cause: err,
      hint: 'check that the host is still up; the Docker request may or may not have been carried out',
    })
  }

  private forwardError(err: unknown): OsctlError {
    return new OsctlError('DOCKER_UNAVAILABLE', `cannot reach the Docker socket ${this.socketPath} on ${where(this.target)} over SSH: ${errorMessage(err)}`, {
      cause: err,
      hint: `check that Docker runs there (\`osctl bootstrap\` starts it) and that sshd allows stream-local forwarding (AllowStreamLocalForwarding yes)`,
    })
  }
}

/** A DockerodeClient talking to a remote host's engine through that host's SSH connection. */
export class SshDockerClient extends DockerodeClient {
  private readonly agent: SshSocketAgent

  constructor(host: SshHost, socketPath = DOCKER_SOCKET) {
    const target = host.target
    const agent = new SshSocketAgent(target, socketPath, host.connection)
    // host/port are only what the HTTP request line names; the agent decides where bytes go.
    super(`${target.name}:${socketPath}`, {protocol: 'http', host: 'docker', port: 80, agent} as never)
    this.agent = agent
  }

  /** Ends its channels; the connection stays the host's (SshHost.close ends it). */
  async close(): Promise<void> {
    this.agent.close()
  }
}
