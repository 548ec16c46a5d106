import {Args} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {requireSystemContainer} from '../../bootstrap/system-context.js'
import {siteContext} from '../../session/site-context.js'
import {SystemRow, formatRows, systemRows} from '../../system/system-rows.js'
import {summarizeHosts} from '../../hosts/summary.js'

export default class SystemStatus extends OsctlCommand {
  static summary = 'Health of the system containers (or one of them) on each host.'
  static description = describe('Probes each health endpoint from the host itself (etcd /health, registry /v2/). Exit 1 when any is unhealthy.')
  static args = {name: Args.string({description: 'Only this system container.'})}
  static flags = {...siteFlags}

  async run(): Promise<{rows: SystemRow[]; healthy: boolean}> {
    const {args, flags} = await this.parse(SystemStatus)
    if (args.name) requireSystemContainer(args.name)
    const rows = await systemRows(this.closing(await siteContext(flags)), {name: args.name, health: true})
    if (!this.jsonEnabled()) for (const line of formatRows(rows)) this.log(line)
    const healthy = rows.every((r) => r.healthy)
    this.successExitCode = healthy ? 0 : Math.max(1, summarizeHosts(rows.map((r) => ({ok: !r.error}))))
    return {rows, healthy}
  }
}
