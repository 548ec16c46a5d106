// Shared by the provisioning scripts: osctl steps through its --json contract, and polls of
// `openstack hypervisor list` with the site's clouds.yaml (written by `osctl post-deploy`).
import {$, sleep} from 'zx'

$.verbose = false
$.nothrow = true

export const EXIT = {OK: 0, FAILED: 1, USAGE: 2, PARTIAL: 3, ROLLED_BACK: 4, UNREACHABLE: 5, INTERRUPTED: 130}

/** OSCTL_BIN overrides the osctl command (default: this checkout's bin/run.js); OPENSTACK_BIN the client. */
export const osctlCommand = () => (process.env.OSCTL_BIN ?? `node ${new URL('../../bin/run.js', import.meta.url).pathname}`).split(' ')
const openstackCommand = () => (process.env.OPENSTACK_BIN ?? 'openstack').split(' ')

/**
 * Runs `osctl ARGS --site SITE --json --progress none` and returns its record for the summary:
 * the exit code, the hosts that failed, the error message (the command's, else the first failed
 * host's) and the command's own data (`doc`). Retried on exit 5 (a new host still booting, an
 * engine not up yet) up to `retries` times, `delay` seconds apart.
 */
export async function osctlStep(name, args, {site, retries = 0, delay = 10, log = (s) => console.error(`provision: ${s}`)}) {
  const record = {step: name, command: ['osctl', ...args].join(' '), attempts: 0, exitCode: 0, seconds: 0}
  const started = Date.now()
  for (;;) {
    record.attempts++
    const r = await $`${osctlCommand()} ${args} --site ${site} --json --progress none`
    let doc
    try {
      doc = JSON.parse(r.stdout)
    } catch {
      doc = {hosts: [], error: {message: `not a JSON document (exit ${r.exitCode}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`}}
    }
    record.exitCode = r.exitCode ?? EXIT.FAILED
    const failed = (doc.hosts ?? []).filter((h) => !h.ok)
    record.failedHosts = failed.map((h) => h.host)
    const error = doc.error?.message ?? failed.find((h) => h.error)?.error?.message
    if (error) record.error = error
    else delete record.error
    record.doc = doc
    log(`${record.command} exited ${record.exitCode}${error ? `: ${error}` : ''}`)
    if (record.exitCode !== EXIT.UNREACHABLE || record.attempts > retries) break
    await sleep(delay * 1000)
  }
  record.seconds = Math.round((Date.now() - started) / 100) / 10
  return record
}

/**
 * Polls `openstack hypervisor list` until `want(rows)` holds or `timeout` seconds passed. Returns
 * {ok, answered, seconds, polls, rows, error}: answered is false when the client never gave a list;
 * error is its last complaint.
 */
export async function waitForHypervisors(site, want, {timeout = 300, every = 5} = {}) {
  const env = {...process.env, OS_CLIENT_CONFIG_FILE: `${site}/clouds.yaml`, OS_CLOUD: 'osctl'}
  const started = Date.now()
  let polls = 0
  let rows
  let error
  for (;;) {
    polls++
    const r = await $({env})`${openstackCommand()} hypervisor list -f json`
    if (r.exitCode === 0) {
      try {
        rows = JSON.parse(r.stdout)
        error = undefined
      } catch {
        error = `openstack hypervisor list: not JSON: ${r.stdout.slice(0, 200)}`
      }
    } else {
      error = `openstack hypervisor list exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}`
    }
    const seconds = Math.round((Date.now() - started) / 100) / 10
    if (rows && want(rows)) return {ok: true, answered: true, seconds, polls, rows}
    if (Date.now() - started >= timeout * 1000) return {ok: false, answered: rows !== undefined, seconds, polls, rows: rows ?? [], error}
    await sleep(every * 1000)
  }
}

/** The hypervisor of host NAME: its hypervisor hostname is NAME (nova-compute's `host`) or NAME.domain. */
export const hypervisorOf = (rows, name) => rows.find((r) => r['Hypervisor Hostname'] === name || String(r['Hypervisor Hostname']).startsWith(`${name}.`))

/** Prints the one JSON summary on stdout and exits with its code. */
export function finish(summary) {
  summary.ok = summary.exitCode === EXIT.OK
  for (const s of summary.steps ?? []) delete s.doc
  console.log(JSON.stringify(summary, null, 2))
  process.exit(summary.exitCode)
}
