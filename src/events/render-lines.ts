import {describeEvent, type Status} from './describe.js'
import type {OsctlEvent} from './event-types.js'

const MARK: Record<Status, string> = {start: '…', progress: '…', ok: '✔', changed: '✔', unchanged: '=', skipped: '-', failed: '✖', info: '·'}

/** `✔ [host] subject text` and the detail lines under it: the plain renderer and the live view's log. */
export function eventLines(e: OsctlEvent): string[] {
  const d = describeEvent(e)
  const where = e.host ? `[${e.host}] ` : ''
  return [`${MARK[d.status]} ${where}${d.subject} ${d.text}`, ...(d.detail ?? []).map((l) => `    ${l}`)]
}

/**
 * Progress events (build steps, pull bytes) come fast; a line renderer shows one per subject and
 * host at most every `everyMs`, and always the first.
 */
export class ProgressThrottle {
  private readonly last = new Map<string, number>()

  constructor(private readonly everyMs: number) {}

  pass(e: OsctlEvent): boolean {
    if (describeEvent(e).status !== 'progress') return true
    const key = `${e.host ?? ''}\u0000${e.code}\u0000${describeEvent(e).subject}`
    const now = Date.now()
    const prev = this.last.get(key)
    if (prev !== undefined && now - prev < this.everyMs) return false
    this.last.set(key, now)
    return true
  }
}

/** Plain lines on stderr: readable in CI logs and over SSH, never on stdout. */
export function plainRenderer(write: (s: string) => void, everyMs = 10_000): (e: OsctlEvent) => void {
  const throttle = new ProgressThrottle(everyMs)
  return (e) => {
    if (throttle.pass(e)) write(eventLines(e).join('\n') + '\n')
  }
}

/** One JSON document per line (`--progress json`): code, level, host, data, time. */
export function ndjsonRenderer(write: (s: string) => void, everyMs = 1000): (e: OsctlEvent) => void {
  const throttle = new ProgressThrottle(everyMs)
  return (e) => {
    if (throttle.pass(e)) write(JSON.stringify(e) + '\n')
  }
}
