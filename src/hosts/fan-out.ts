import {ExitCode, OsctlError, errorMessage, isOsctlError} from '../errors.js'
import {Semaphore} from './semaphore.js'

export interface HostResult<T> {
  host: string
  ok: boolean
  value?: T
  error?: OsctlError
  durationMs: number
}

/**
 * Runs fn on every host, at most `concurrency` at a time. Results come back in input order and every
 * host runs to completion: one failing host never hides (or cancels) what happened on the others.
 */
export async function fanOut<H extends {name: string}, T>(
  hosts: H[],
  concurrency: number,
  fn: (h: H) => Promise<T>,
): Promise<HostResult<T>[]> {
  const gate = new Semaphore(Math.max(1, Math.floor(concurrency)))
  return Promise.all(
    hosts.map((h) =>
      gate.use(async (): Promise<HostResult<T>> => {
        const start = performance.now()
        try {
          const value = await fn(h)
          return {host: h.name, ok: true, value, durationMs: performance.now() - start}
        } catch (err) {
          return {host: h.name, ok: false, error: asOsctlError(h.name, err), durationMs: performance.now() - start}
        }
      }),
    ),
  )
}

/** A bug or library error still has to say which host it happened on. */
function asOsctlError(host: string, err: unknown): OsctlError {
  if (isOsctlError(err)) return err
  return new OsctlError('INTERNAL', `${host}: ${errorMessage(err)}`, {cause: err, location: host})
}

export function summarize(results: HostResult<unknown>[]): {ok: string[]; failed: string[]; exitCode: 0 | 1 | 3} {
  const ok = results.filter((r) => r.ok).map((r) => r.host)
  const failed = results.filter((r) => !r.ok).map((r) => r.host)
  const exitCode = failed.length === 0 ? ExitCode.OK : ok.length === 0 ? ExitCode.FAILED : ExitCode.PARTIAL
  return {ok, failed, exitCode}
}
