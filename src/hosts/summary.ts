import {ExitCode} from '../errors.js'

const UNREACHABLE = new Set(['HOST_UNREACHABLE', 'HOST_AUTH', 'HOST_KEY_MISMATCH', 'HOST_KEY_UNKNOWN'])

/**
 * 0 when every host succeeded, 3 (partial) when some failed, 5 when every host failed because it
 * could not be reached, 1 when all failed otherwise.
 */
export function summarizeHosts(hosts: Array<{ok: boolean; error?: {code?: string}}>): number {
  const failed = hosts.filter((h) => !h.ok)
  if (failed.length === 0) return ExitCode.OK
  if (failed.length < hosts.length) return ExitCode.PARTIAL
  return failed.every((h) => UNREACHABLE.has(h.error?.code ?? '')) ? ExitCode.UNREACHABLE : ExitCode.FAILED
}
