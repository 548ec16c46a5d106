import {interruptedNotice} from '../../revisions/journal.js'
import {Envelope, targetOutcomes} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../session/deploy-context.js'
import {formatServiceRows, serviceRows} from '../../ops/service-inventory.js'

export default class ServiceList extends OsctlCommand {
  static summary = 'What runs where: service, container, host, image, revision and state of every osctl service container.'
  static description = describe('Asks each host’s Docker engine (over SSH) for the containers osctl created. Exit 3/5 when some/all hosts cannot be asked.')
  static examples = ['<%= config.bin %> service list --site ./site', '<%= config.bin %> service list --limit control --json']
  static flags = {...siteFlags}

  async run(): Promise<Envelope<Awaited<ReturnType<typeof serviceRows>>>> {
    const {flags} = await this.parse(ServiceList)
    const ctx = this.closing(await deployContext(flags))
    const result = await serviceRows(ctx, {health: false})
    for (const e of result.interrupted) this.notice(interruptedNotice(e, e.state))
    if (!this.jsonEnabled()) {
      for (const line of formatServiceRows(result.rows, false)) this.log(line)
      for (const e of result.errors) this.log(`${e.host}: ${e.error.message}`)
    }
    return this.done(result, targetOutcomes(ctx.targets, result.errors))
  }
}
