import {Agent, type AgentOptions} from 'node:http'
import type {Duplex} from 'node:stream'
import {inspect} from 'node:util'

import {OsctlError, errorMessage} from '../errors.js'
import {LazyConnection} from '../hosts/lazy-connection.js'
import {SshTarget, where} from '../hosts/ssh-connect.js'
import type {SshHost} from '../hosts/ssh-host.js'
import {DockerodeClient} from './docker-client.js'

const DOCKER_SOCKET = '/var/run/docker.sock'

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
    this.conn.get().then(
      (client) =>
        client.openssh_forwardOutStreamLocal(this.socketPath, (err, stream) => {
          if (err) {
            callback?.(this.forwardError(err), undefined as never)
            return
          }
          // http expects socket-like methods on the stream it is handed.
          const s = stream as unknown as Duplex & Record<string, unknown>
          for (const m of ['setTimeout', 'setNoDelay', 'setKeepAlive', 'ref', 'unref']) if (typeof s[m] !== 'function') s[m] = () => s
          callback?.(null, s)
        }),
      (err: unknown) => callback?.(err as Error, undefined as never),
    )
    return undefined
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

  private forwardError(err: Error): OsctlError {
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
