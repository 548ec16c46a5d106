/**
 * The core never writes to the terminal: it emits typed events through a Reporter
 * (aws-cdk toolkit-lib style). Commands pick the printer; tests record the events.
 */
export type TaskStatus = 'start' | 'ok' | 'changed' | 'unchanged' | 'skipped' | 'failed' | 'info'

export interface ReportEvent {
  /** What the event is about: an image, a service, a lab host … */
  subject: string
  status: TaskStatus
  message?: string
  /** The host the event happened on, when there is one. */
  host?: string
  /** Extra lines (e.g. the tail of a build log) shown under a failure. */
  detail?: string[]
}

export interface Reporter {
  emit(event: ReportEvent): void
}

export const silentReporter: Reporter = {emit() {}}

/** Keeps every event: for tests and for building --json results. */
export class RecordingReporter implements Reporter {
  readonly events: ReportEvent[] = []
  emit(event: ReportEvent): void {
    this.events.push(event)
  }
}

const MARK: Record<TaskStatus, string> = {
  start: '…',
  ok: '✔',
  changed: '✔',
  unchanged: '=',
  skipped: '-',
  failed: '✖',
  info: '·',
}

/** Plain progress lines on stderr: readable in CI logs and over SSH, never on stdout. */
export class StderrReporter implements Reporter {
  constructor(private readonly write: (s: string) => void = (s) => process.stderr.write(s)) {}

  emit(e: ReportEvent): void {
    const where = e.host ? `[${e.host}] ` : ''
    const msg = e.message ? ` ${e.message}` : ''
    this.write(`${MARK[e.status]} ${where}${e.subject}${msg}\n`)
    for (const line of e.detail ?? []) this.write(`    ${line}\n`)
  }
}
