import {OsctlError} from '../errors.js'

/** What kind of failure an engine's pull error text is: the registry's answer, the host's disk, or the way there. */
export type PullFailure = 'missing' | 'no-space' | 'registry-unreachable' | 'engine-lost' | 'other'

export function pullFailure(message: string, err?: unknown): PullFailure {
  // The way to the engine itself broke (the host went down, its SSH connection was cut): the
  // engine's own answers are HTTP statuses or progress messages, never these.
  const sys = (err as {code?: unknown})?.code
  if (/^(aborted|socket hang up)$/i.test(message) || (typeof sys === 'string' && /^E[A-Z]+$/.test(sys) && sys !== 'ENOSPC')) return 'engine-lost'
  if (/no space left on device|ENOSPC|disk quota exceeded/i.test(message)) return 'no-space'
  if (/manifest unknown|not found|404/i.test(message)) return 'missing'
  // What the engine says when it cannot talk to the registry at all (refused, no route, no answer).
  if (/connection refused|no route to host|i\/o timeout|network is unreachable|connection reset|TLS handshake timeout|Client\.Timeout|dial tcp|EOF$/i.test(message)) return 'registry-unreachable'
  return 'other'
}

/**
 * A failed pull as the operator should read it: which image, from which registry, on which
 * engine, and the engine's own words (their first line), with a hint that fits the cause.
 */
export function pullError(endpoint: string, ref: string, err: unknown): OsctlError {
  const msg = ((err as Error)?.message ?? String(err)).split('\n')[0].trim()
  const registry = ref.split('/')[0]
  const repo = ref.slice(0, ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref.lastIndexOf(':') : ref.length)
  if (err instanceof OsctlError) return err
  const kind = pullFailure(msg, err)
  const text = `${endpoint}: cannot pull ${ref}: ${msg}`
  switch (kind) {
    case 'missing':
      return new OsctlError('IMAGE_UNKNOWN', text, {cause: err, hint: `build and push it first: \`osctl image build ${repo.split('/').at(-1)} --push\``})
    case 'no-space':
      return new OsctlError('COMMAND_FAILED', `${endpoint}: cannot pull ${ref}: no space left on the host's Docker disk (${msg})`, {
        cause: err,
        hint: 'free space under /var/lib/docker on that host (`osctl image prune` removes images no kept revision needs), then run the command again',
      })
    case 'registry-unreachable':
      return new OsctlError('REGISTRY_UNREACHABLE', `${endpoint}: cannot pull ${ref}: the registry ${registry} does not answer (${msg})`, {
        cause: err,
        hint: `check the site registry: \`osctl system status registry\` (it runs as osctl-registry.service on the deploy host)`,
      })
    case 'engine-lost':
      return new OsctlError('HOST_UNREACHABLE', `${endpoint}: lost the connection to the Docker engine while pulling ${ref} (${msg})`, {
        cause: err,
        hint: 'check that the host is still up; nothing was changed there by this pull, run the command again once it answers',
      })
    default:
      return new OsctlError('COMMAND_FAILED', text, {cause: err, hint: 'check that the site registry answers (`osctl system status registry`)'})
  }
}
