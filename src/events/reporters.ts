import {levelOf} from './describe.js'
import type {EventCode, EventData, OsctlEvent, Reporter} from './event-types.js'

export type {Reporter} from './event-types.js'

/** Builds the event envelope once; every reporter below is a sink for whole events. */
export function makeEvent<C extends EventCode>(code: C, data: EventData[C], host?: string): OsctlEvent<C> {
  return {code, level: levelOf(code, data), ...(host === undefined ? {} : {host}), data, time: new Date().toISOString()}
}

/** A Reporter that hands each whole event to a function (renderers, tests). */
export class EventSink implements Reporter {
  constructor(private readonly sink: (e: OsctlEvent) => void) {}

  emit<C extends EventCode>(code: C, data: EventData[C], host?: string): void {
    this.sink(makeEvent(code, data, host) as OsctlEvent)
  }
}

export const silentReporter: Reporter = {emit() {}}

/** Keeps every event: for tests (they assert on codes and data) and for building results. */
export class RecordingReporter extends EventSink {
  readonly events: OsctlEvent[] = []

  constructor() {
    super((e) => this.events.push(e))
  }

  /** The events of one code, typed. */
  of<C extends EventCode>(code: C): Array<OsctlEvent<C>> {
    return this.events.filter((e): e is OsctlEvent<C> => e.code === code)
  }
}

/** Fans one event out to several reporters (e.g. a renderer and a recorder). */
export function teeReporter(...reporters: Reporter[]): Reporter {
  return {emit: (code, data, host) => reporters.forEach((r) => r.emit(code, data, host))}
}
