import {describeEvent} from './describe.js'
import type {OsctlEvent} from './event-types.js'
import {eventLines} from './render-lines.js'

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

interface Row {
  label: string
  text: string
  since: number
}

/**
 * The TTY view: finished steps scroll by as plain lines; below them one live row per host (or per
 * subject for host-less work such as image builds) shows what it is doing now and for how long.
 * Hand-written rather than listr2: osctl's work is an event stream whose hosts and subjects appear
 * as they go, while listr2 wants the task tree up front.
 */
export class LiveRenderer {
  private readonly rows = new Map<string, Row>()
  private drawn = 0
  private frame = 0
  private timer?: NodeJS.Timeout

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  readonly onEvent = (e: OsctlEvent): void => {
    const d = describeEvent(e)
    const key = e.host ?? d.subject
    const label = e.host ? `[${e.host}] ${d.subject}` : d.subject
    if (d.status === 'start' || d.status === 'progress') {
      const row = this.rows.get(key)
      this.rows.set(key, {label, text: d.text, since: row && d.status === 'progress' ? row.since : Date.now()})
      this.start()
      this.draw()
      return
    }
    // The step ended: its host (or subject) is idle until its next start.
    this.rows.delete(key)
    this.print(eventLines(e))
  }

  /** Clears the live rows (before the command prints its result, or at exit). */
  clear(): void {
    this.erase()
    if (this.rows.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  stop(): void {
    this.rows.clear()
    this.clear()
  }

  private start(): void {
    this.timer ??= setInterval(() => this.draw(), 120).unref()
  }

  private print(lines: string[]): void {
    this.erase()
    // Finished lines are the record: whole, wrapped by the terminal if need be. Only live rows are cut.
    this.out.write(lines.join('\n') + '\n')
    this.draw()
  }

  private draw(): void {
    this.erase()
    if (this.rows.size === 0) return
    const spin = SPIN[this.frame++ % SPIN.length]
    const lines = [...this.rows.values()].map((r) => this.fit(`${spin} ${r.label} ${r.text} (${Math.round((Date.now() - r.since) / 1000)}s)`))
    this.out.write(lines.join('\n') + '\n')
    this.drawn = lines.length
  }

  private erase(): void {
    if (this.drawn === 0) return
    this.out.write(`\x1b[${this.drawn}A\x1b[J`)
    this.drawn = 0
  }

  private fit(line: string): string {
    const width = this.out.columns || 120
    return line.length > width ? `${line.slice(0, width - 1)}…` : line
  }
}
