/** OSCTL_TRACE=1: milestones of a run on stderr, in ms since the process started (where a command's time goes). */
export function trace(what: string): void {
  if (process.env.OSCTL_TRACE) process.stderr.write(`osctl trace ${performance.now().toFixed(0).padStart(6)} ms  ${what}\n`)
}
