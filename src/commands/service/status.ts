import {Args} from '@oclif/core'

import {interruptedNotice} from '../../revisions/journal.js'
import {Envelope, exitCodeOf, targetOutcomes} from '../../cli/envelope.js'
import {ExitCode} from '../../errors.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../session/deploy-context.js'
import {checkServiceName, formatServiceRows, serviceRows} from '../../ops/service-inventory.js'

export default class ServiceStatus extends OsctlCommand {
  static summary = 'Health of every service container (or of one service or container) on each host.'
  static description = describe('Probes each container’s health check (from its current revision) from the host itself. Exit 1 when any container is unhealthy or a host cannot be asked.')
  static examples = ['<%= config.bin %> service status --site ./site', '<%= config.bin %> service status keystone --json']
  static args = {name: Args.string({description: 'A service or container name; default all.'})}
  static flags = {...siteFlags}

  async run(): Promise<Envelope<Awaited<ReturnType<typeof serviceRows>> & {healthy: boolean}>> {
    const {args, flags} = await this.parse(ServiceStatus)
    const ctx = this.closing(await deployContext(flags))
    if (args.name) checkServiceName(ctx, args.name)
    const result = await serviceRows(ctx, {name: args.name, health: true})
    const healthy = result.errors.length === 0 && result.interrupted.length === 0 && result.rows.length > 0 && result.rows.every((r) => r.healthy)
    for (const e of result.interrupted) this.notice(interruptedNotice(e, e.state))
    if (!this.jsonEnabled()) {
      for (const line of formatServiceRows(result.rows, true)) this.log(line)
      for (const e of result.errors) this.log(`${e.host}: ${e.error.message}`)
      if (result.rows.length === 0) this.log(`no ${args.name ?? 'service'} containers found (run \`osctl deploy\`)`)
    }
    const hosts = targetOutcomes(ctx.targets, result.errors)
    // Reachable but unhealthy (or interrupted, or nothing deployed) is 1; unreachable hosts give 3 or 5 as everywhere.
    const code = exitCodeOf(hosts)
    return this.done({...result, healthy}, hosts, code === 0 && !healthy ? ExitCode.FAILED : code)
  }
}
