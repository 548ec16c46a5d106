#!/usr/bin/env node
// Provisioning driver for bare-metal pipelines: bootstrap, deploy and post-deploy a site with
// osctl's --json contract, non-interactively. A step whose hosts partly failed or could not be
// reached (exit 3 or 5) is retried on exactly those hosts (--limit), up to --retries times; bad
// input (2), a failed operation (1), an automatic rollback (4) or an interruption (130) stop at once.
// Prints one JSON summary on stdout and exits with the last step's code.
//
//   node scripts/provision/site.mjs --site ./site [--services a,b] [--retries 2] [--retry-delay 10]
//   OSCTL_BIN overrides the osctl command (default: this checkout's bin/run.js).
import {$, argv, sleep} from 'zx'

$.verbose = false
$.nothrow = true

const site = argv.site ?? process.env.OSCTL_SITE
if (!site) {
  console.error('provision: --site DIR is required')
  process.exit(2)
}
const retries = Number(argv.retries ?? 2)
const delay = Number(argv['retry-delay'] ?? 10)
const osctl = (process.env.OSCTL_BIN ?? `node ${new URL('../../bin/run.js', import.meta.url).pathname}`).split(' ')
const RETRYABLE = new Set([3, 5])

const steps = [['bootstrap'], ['deploy', ...(argv.services ? ['--services', String(argv.services)] : [])], ['post-deploy']]
const summary = {ok: true, site, steps: []}
let exitCode = 0
for (const step of steps) {
  let limit
  const record = {command: step[0], attempts: 0, exitCode: 0, failedHosts: []}
  summary.steps.push(record)
  for (;;) {
    record.attempts++
    const r = await $`${osctl} ${step} --site ${site} ${limit ? ['--limit', limit] : []} --json --progress none`
    let doc
    try {
      doc = JSON.parse(r.stdout)
    } catch {
      doc = {exitCode: r.exitCode, hosts: [], error: {message: `not a JSON document: ${r.stderr.trim().split('\n').at(-1)}`}}
    }
    record.exitCode = r.exitCode
    record.failedHosts = doc.hosts.filter((h) => !h.ok).map((h) => h.host)
    if (doc.error) record.error = doc.error.message
    console.error(`provision: ${step[0]}${limit ? ` --limit ${limit}` : ''} exited ${r.exitCode}${record.failedHosts.length ? ` (failed: ${record.failedHosts.join(', ')})` : ''}`)
    if (!RETRYABLE.has(r.exitCode) || record.failedHosts.length === 0 || record.attempts > retries) break
    limit = record.failedHosts.join(',')
    await sleep(delay * 1000)
  }
  exitCode = record.exitCode
  if (exitCode !== 0) break
}
summary.ok = exitCode === 0
console.log(JSON.stringify(summary, null, 2))
process.exit(exitCode)
