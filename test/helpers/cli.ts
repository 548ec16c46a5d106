import {execa} from 'execa'
import {join} from 'node:path'

export const REPO_ROOT = join(import.meta.dirname, '..', '..')
const BIN = join(REPO_ROOT, 'bin', 'run.js')

export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** Runs the built CLI (dist/, compiled by the global setup) as a user would. */
export async function runCli(args: string[], opts: {env?: Record<string, string>; timeoutMs?: number} = {}): Promise<CliResult> {
  const r = await execa('node', [BIN, ...args], {
    reject: false,
    env: {...opts.env},
    timeout: opts.timeoutMs ?? 120_000,
    stdin: 'ignore',
  })
  return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
}

export interface EventLine {
  code: string
  level: string
  host?: string
  data: Record<string, unknown>
}

/** The NDJSON progress events on a command's stderr (`--json` or `--progress json`); other lines are skipped. */
export function eventsOf(stderr: string): EventLine[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{"code":'))
    .map((l) => JSON.parse(l) as EventLine)
}
