/**
 * The value of a settled promise, or its rejection thrown. Over `Promise.allSettled` results it
 * waits for every read and then fails with the first one in the caller's order (a host list, a
 * precedence), not with whichever rejected first in time.
 */
export function settledValue<T>(r: PromiseSettledResult<T>): T {
  if (r.status === 'rejected') throw r.reason
  return r.value
}
