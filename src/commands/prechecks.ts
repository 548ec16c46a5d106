import {Envelope, exitCodeOf, outcome} from '../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import type {PrecheckResult} from '../bootstrap/prechecks.js'
import {ExitCode} from '../errors.js'
import {failedChecks, prechecks} from '../ops/prechecks.js'
import {deployContext} from '../session/deploy-context.js'

export default class Prechecks extends OsctlCommand {
  static summary = 'Check every host before bootstrap, deploy or a maintenance window; changes nothing (kolla-ansible prechecks).'
  static description = describe(
    'Per host: systemd is PID 1, kernel version (5.10 or later) and features (overlay, bridge, vxlan), cgroups, free disk under /var/lib, ' +
      'the TCP ports of its system containers and enabled services free (or held by osctl’s own running containers), its clock within 2 s ' +
      'of this machine’s, its own hostname and the registry’s name resolving, and its inventory address being one of its own. ' +
      'Exit 3 when a check fails on some host, 5 when no host could be reached.',
  )
  static examples = ['<%= config.bin %> prechecks --site ./site', '<%= config.bin %> prechecks --limit compute --json']
  static flags = {...siteFlags}

  async run(): Promise<Envelope<object, {checks: PrecheckResult[]; ports: number[]}>> {
    const {flags} = await this.parse(Prechecks)
    const ctx = this.closing(await deployContext(flags))
    const results = await prechecks(ctx.site, ctx.catalog, ctx.targets, ctx.session)
    const hosts = results.map((r) => {
      const checks = r.value?.checks ?? []
      const error = r.error ?? failedChecks(r.host, checks)
      return outcome(r.host, {ok: !error, error, checks, ports: r.value?.ports ?? []})
    })
    const checkFailed = results.some((r) => r.ok && r.value!.checks.some((c) => !c.ok))
    if (!this.jsonEnabled()) {
      for (const h of hosts) {
        if (!h.checks.length) this.log(`${h.host.padEnd(16)} FAILED ${h.error?.message ?? ''}`)
        for (const c of h.checks) this.log(`${h.host.padEnd(16)} ${c.ok ? 'ok  ' : 'FAIL'} ${c.check.padEnd(18)} ${c.detail}`)
      }
      this.log(hosts.every((h) => h.ok) ? `prechecks: ${hosts.length} host(s) passed` : `prechecks: FAILED on ${hosts.filter((h) => !h.ok).length} of ${hosts.length} host(s)`)
    }
    return this.done({}, hosts, checkFailed ? ExitCode.PARTIAL : exitCodeOf(hosts))
  }
}
