import {OsctlError} from '../errors.js'

/**
 * SIGINT/SIGTERM. Commands that change hosts stop at the next step boundary (the running step
 * finishes, or the journal lets the next command complete or undo it) and exit 130; a second
 * signal exits at once. Read-only commands exit at once.
 */
let requested: NodeJS.Signals | undefined

export function interruptRequested(): NodeJS.Signals | undefined {
  return requested
}

/** Marks the run interrupted (what a signal does; tests call it directly). */
export function requestInterrupt(signal: NodeJS.Signals = 'SIGINT'): void {
  requested ??= signal
}

export function resetInterrupt(): void {
  requested = undefined
}

/** Called between steps: after a signal, nothing new starts. */
export function throwIfInterrupted(next: string): void {
  if (!requested) return
  throw new OsctlError('INTERRUPTED', `${requested} received: stopped before ${next}`, {
    hint: 'Every step that had started finished; run the same command again to go on.',
  })
}

export interface SignalHooks {
  /** Between steps: the first signal asks the running step to finish; at-once: the first signal exits. */
  mode: 'between-steps' | 'at-once'
  notice(message: string): void
  /** Last words before exiting at once (stop the live view). */
  beforeExit(): void
}

export function installSignalHandlers(hooks: SignalHooks): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    if (hooks.mode === 'at-once' || requested) {
      hooks.beforeExit()
      if (hooks.mode === 'between-steps') hooks.notice(`${signal} again: exiting now; the next osctl command completes or undoes the interrupted change (see \`osctl service status\`)`)
      process.exit(130)
    }
    requestInterrupt(signal)
    hooks.notice(`${signal} received: finishing the running step, then stopping (send it again to exit at once)`)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
