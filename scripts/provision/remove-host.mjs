#!/usr/bin/env node
// A host out of the site for bare-metal pipelines: `osctl host remove NAME --drain` (nova disables
// and then deletes its nova-compute service, its containers and units go, a control host leaves
// etcd, then inventory.yml), and when it was a compute host, a wait until `openstack hypervisor
// list` (the site's clouds.yaml, cloud osctl) no longer shows it. Exit 5 (host unreachable) is
// retried up to --retries times. Prints one JSON summary on stdout; exits with osctl's exit code
// (2 for bad arguments or a host not in the inventory, 1 when the hypervisor stayed listed).
//
//   node scripts/provision/remove-host.mjs --site ./site --name cmp-3 [--timeout 120] [--retries 2] [--retry-delay 10]
//   OSCTL_BIN overrides the osctl command (default: this checkout's bin/run.js), OPENSTACK_BIN the client.
import {argv} from 'zx'

import {EXIT, finish, hypervisorOf, osctlStep, waitForHypervisors} from './common.mjs'

const KNOWN = ['_', 'site', 'name', 'timeout', 'retries', 'retry-delay', 'poll']
const str = (v) => (v === undefined || v === true ? undefined : String(v))
const site = str(argv.site) ?? process.env.OSCTL_SITE
const name = str(argv.name)
const num = (key, dflt) => (argv[key] === undefined ? dflt : Number(argv[key]))
const [timeout, retries, delay, poll] = [num('timeout', 120), num('retries', 2), num('retry-delay', 10), num('poll', 5)]

const summary = {ok: false, exitCode: 0, host: name ?? null, site: site ?? null, steps: []}
const problems = [
  ...Object.keys(argv).filter((k) => !KNOWN.includes(k)).map((k) => `unknown option --${k}`),
  ...(argv._.length ? [`unexpected argument ${argv._.join(' ')}`] : []),
  ...(site ? [] : ['--site DIR is required (or OSCTL_SITE)']),
  ...(name ? [] : ['--name NAME is required']),
  ...[['timeout', timeout], ['retries', retries], ['retry-delay', delay], ['poll', poll]].filter(([, v]) => !Number.isFinite(v) || v < 0).map(([k]) => `--${k} must be a number ≥ 0`),
]
if (problems.length > 0) {
  for (const p of problems) console.error(`remove-host: ${p}`)
  finish({...summary, exitCode: EXIT.USAGE, error: problems.join('; ')})
}

const record = await osctlStep('host-remove', ['host', 'remove', name, '--drain'], {site, retries, delay})
summary.steps.push(record)
if (record.exitCode !== EXIT.OK) finish({...summary, exitCode: record.exitCode, failedStep: 'host-remove', error: record.error})
summary.removed = (record.doc.steps ?? []).map((s) => s.kind)

if (summary.removed.includes('nova-delete')) {
  const wait = await waitForHypervisors(site, (rows) => !hypervisorOf(rows, name), {timeout, every: poll})
  summary.hypervisor = {gone: wait.ok, seconds: wait.seconds, polls: wait.polls}
  if (!wait.ok) finish({...summary, exitCode: wait.answered ? EXIT.FAILED : EXIT.UNREACHABLE, failedStep: 'hypervisor', error: wait.error ?? `${name} is still a hypervisor after ${timeout}s`})
}
finish({...summary, exitCode: EXIT.OK})
