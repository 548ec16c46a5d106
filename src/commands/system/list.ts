import {Envelope, fromFanOut} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {siteContext} from '../../session/site-context.js'
import {SystemRow, formatRows, systemRows} from '../../system/system-rows.js'

export default class SystemList extends OsctlCommand {
  static summary = 'System containers on each host: revision, image, unit state.'
  static description = describe('Reads the slots and units on each host (no health probes; see `system status`).')
  static flags = {...siteFlags}

  async run(): Promise<Envelope<{rows: SystemRow[]}>> {
    const {flags} = await this.parse(SystemList)
    const {rows, results} = await systemRows(this.closing(await siteContext(flags)), {health: false})
    if (!this.jsonEnabled()) for (const line of formatRows(rows)) this.log(line)
    return this.done({rows}, fromFanOut(results))
  }
}
