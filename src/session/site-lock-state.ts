/**
 * Whether this process holds its site's lock in etcd (site-lock.ts) right now. A module of its own,
 * so what asks (balancer.ts's recover) does not load the lock's code.
 */
let held = 0

export const siteLockHeld = (): boolean => held > 0

export function noteSiteLock(taken: boolean): void {
  held = Math.max(0, held + (taken ? 1 : -1))
}
