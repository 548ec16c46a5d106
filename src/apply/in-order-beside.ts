/**
 * `inOrder` one after another (one swap at a time, in the service's order) and `beside` all at once
 * alongside them (containers only health-checked). Both run to their end before the first failure
 * is thrown, so no swap is left running behind an error. Results come in the order of
 * `[...inOrder, ...beside]`; a failure in `inOrder` stops the ones after it.
 */
export async function inOrderBeside<T, R>(inOrder: T[], beside: T[], fn: (x: T) => Promise<R>): Promise<R[]> {
  const sequence = async () => {
    const done: R[] = []
    for (const x of inOrder) done.push(await fn(x))
    return done
  }
  const settled = await Promise.allSettled([sequence(), ...beside.map(async (x) => [await fn(x)])])
  const failure = settled.find((r) => r.status === 'rejected')
  if (failure) throw failure.reason
  return settled.flatMap((r) => (r.status === 'fulfilled' ? r.value : []))
}
