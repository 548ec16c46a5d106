import type {OsctlEvent, Reporter} from './event-types.js'
import {LiveRenderer} from './render-live.js'
import {ndjsonRenderer, plainRenderer} from './render-lines.js'
import {EventSink, silentReporter} from './reporters.js'

export const PROGRESS_MODES = ['auto', 'live', 'plain', 'json', 'none'] as const
export type ProgressMode = (typeof PROGRESS_MODES)[number]

export interface Progress {
  reporter: Reporter
  /** Takes the live rows off the terminal before the command prints its result. */
  clear(): void
  stop(): void
}

/**
 * auto: a live per-host view on a TTY, plain lines otherwise; NDJSON when the command's output is
 * --json (a script reading stdout gets machine-readable progress on stderr too).
 */
export function chooseProgress(mode: ProgressMode, opts: {json: boolean; stream?: NodeJS.WriteStream}): Progress {
  const out = opts.stream ?? process.stderr
  const write = (s: string) => void out.write(s)
  const resolved = mode === 'auto' ? (opts.json ? 'json' : out.isTTY && process.env.TERM !== 'dumb' ? 'live' : 'plain') : mode
  const sink = (fn: (e: OsctlEvent) => void): Progress => ({reporter: new EventSink(fn), clear() {}, stop() {}})
  switch (resolved) {
    case 'none':
      return {reporter: silentReporter, clear() {}, stop() {}}
    case 'json':
      return sink(ndjsonRenderer(write))
    case 'plain':
      return sink(plainRenderer(write))
    case 'live': {
      const live = new LiveRenderer(out)
      return {reporter: new EventSink(live.onEvent), clear: () => live.clear(), stop: () => live.stop()}
    }
  }
}
