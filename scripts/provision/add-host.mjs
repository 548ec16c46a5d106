#!/usr/bin/env node
// A new host, from inventory to hypervisor, for bare-metal pipelines: `osctl host add` (an identical
// earlier add is accepted unchanged), `bootstrap --limit NAME`, `deploy --limit NAME`, then what the
// rest of the site needs to know about it: `deploy --services nova` for a compute host (its
// discover-hosts step maps the new compute into cell1), `deploy` everywhere for a control host
// (configs list the control hosts), then `post-deploy` (clouds.yaml). A compute host is waited
// for until `openstack hypervisor list` (the site's clouds.yaml, cloud osctl) shows it up.
// A step that exits 5 (host still booting) is retried up to --retries times; any other failure
// stops at once. Prints one JSON summary on stdout; exits with the failing step's osctl exit code
// (2 for bad arguments, 1 when the hypervisor never showed up, 5 when the client never answered).
//
//   node scripts/provision/add-host.mjs --site ./site --name cmp-3 --address 10.0.0.23 --group compute
//     [--ssh-user U] [--ssh-port P] [--ssh-key FILE] [--timeout 300] [--retries 2] [--retry-delay 10]
//   OSCTL_BIN overrides the osctl command (default: this checkout's bin/run.js), OPENSTACK_BIN the client.
import {argv} from 'zx'

import {EXIT, finish, hypervisorOf, osctlStep, waitForHypervisors} from './common.mjs'

const KNOWN = ['_', 'site', 'name', 'address', 'group', 'ssh-user', 'ssh-port', 'ssh-key', 'timeout', 'retries', 'retry-delay', 'poll']
const str = (v) => (v === undefined || v === true ? undefined : String(v))
const site = str(argv.site) ?? process.env.OSCTL_SITE
const name = str(argv.name)
const address = str(argv.address)
const groups = (str(argv.group) ?? '').split(',').map((g) => g.trim()).filter(Boolean)
const num = (key, dflt) => (argv[key] === undefined ? dflt : Number(argv[key]))
const timeout = num('timeout', 300)
const retries = num('retries', 2)
const delay = num('retry-delay', 10)
const poll = num('poll', 5)

const summary = {ok: false, exitCode: 0, host: name ?? null, address: address ?? null, groups, site: site ?? null, steps: []}
const problems = [
  ...Object.keys(argv).filter((k) => !KNOWN.includes(k)).map((k) => `unknown option --${k}`),
  ...(argv._.length ? [`unexpected argument ${argv._.join(' ')}`] : []),
  ...(site ? [] : ['--site DIR is required (or OSCTL_SITE)']),
  ...(name ? [] : ['--name NAME is required']),
  ...(address ? [] : ['--address ADDRESS is required']),
  ...(groups.length ? [] : ['--group GROUP[,GROUP…] is required (compute, control, …)']),
  ...[['timeout', timeout], ['retries', retries], ['retry-delay', delay], ['poll', poll]].filter(([, v]) => !Number.isFinite(v) || v < 0).map(([k]) => `--${k} must be a number ≥ 0`),
]
if (problems.length > 0) {
  for (const p of problems) console.error(`add-host: ${p}`)
  finish({...summary, exitCode: EXIT.USAGE, error: problems.join('; ')})
}

const opt = (flag, key) => (argv[key] === undefined ? [] : [flag, String(argv[key])])
const ssh = [...opt('--ssh-user', 'ssh-user'), ...opt('--ssh-port', 'ssh-port'), ...opt('--ssh-key', 'ssh-key')]
const steps = [
  ['host-add', ['host', 'add', name, '--address', address, '--group', groups.join(','), ...ssh]],
  ['bootstrap', ['bootstrap', '--limit', name]],
  ['deploy', ['deploy', '--limit', name]],
  // A control host changes every config that lists the control hosts; a compute host only nova's
  // discover-hosts step (its command names every compute host, so it runs again).
  ...(groups.includes('control') ? [['deploy-site', ['deploy']]] : groups.includes('compute') ? [['discover', ['deploy', '--services', 'nova']]] : []),
  ['post-deploy', ['post-deploy']],
]

for (const [step, args] of steps) {
  const record = await osctlStep(step, args, {site, retries: step === 'host-add' || step === 'post-deploy' ? 0 : retries, delay})
  if (step === 'host-add' && record.exitCode === 0) summary.added = record.doc.added
  summary.steps.push(record)
  if (record.exitCode !== EXIT.OK) finish({...summary, exitCode: record.exitCode, failedStep: step, error: record.error})
}

if (groups.includes('compute')) {
  const wait = await waitForHypervisors(site, (rows) => hypervisorOf(rows, name)?.State === 'up', {timeout, every: poll})
  const row = hypervisorOf(wait.rows, name)
  summary.hypervisor = {hostname: row?.['Hypervisor Hostname'] ?? null, state: row?.State ?? null, seconds: wait.seconds, polls: wait.polls}
  console.error(`add-host: hypervisor ${name}: ${wait.ok ? `up after ${wait.seconds}s` : `not up after ${wait.seconds}s${wait.error ? ` (${wait.error})` : ''}`}`)
  if (!wait.ok) {
    // The client never answered: the API (or the client) is what is missing, not the hypervisor.
    finish({...summary, exitCode: wait.answered ? EXIT.FAILED : EXIT.UNREACHABLE, failedStep: 'hypervisor', error: wait.error ?? `${name} is not an up hypervisor after ${timeout}s`})
  }
}
finish({...summary, exitCode: EXIT.OK})
