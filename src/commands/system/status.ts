import {Args} from '@oclif/core'

import {Envelope, exitCodeOf, fromFanOut} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {requireSystemContainer} from '../../bootstrap/system-context.js'
import {siteContext} from '../../session/site-context.js'
import {SystemRow, formatRows, systemRows} from '../../system/system-rows.js'
import {ExitCode} from '../../errors.js'

export default class SystemStatus extends OsctlCommand {
  static summary = 'Health of the system containers (or one of them) on each host.'
  static description = describe('Probes each health endpoint from the host itself (etcd /health, registry /v2/). Exit 1 when any is unhealthy.')
  static args = {name: Args.string({description: 'Only this system container.'})}
  static flags = {...siteFlags}

  async run(): Promise<Envelope<{rows: SystemRow[]; healthy: boolean}>> {
    const {args, flags} = await this.parse(SystemStatus)
    if (args.name) requireSystemContainer(args.name)
    const {rows, results} = await systemRows(this.closing(await siteContext(flags)), {name: args.name, health: true})
    if (!this.jsonEnabled()) for (const line of formatRows(rows)) this.log(line)
    const healthy = rows.every((r) => r.healthy)
    const hosts = fromFanOut(results)
    // Reachable but unhealthy is a failure (1); unreachable hosts give 3 or 5 as everywhere.
    const code = exitCodeOf(hosts)
    return this.done({rows, healthy}, hosts, code === 0 && !healthy ? ExitCode.FAILED : code)
  }
}
