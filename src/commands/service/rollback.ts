import {Args, Flags} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../session/deploy-context.js'
import {requireServiceOrContainer, serviceHosts} from '../../catalog/service-hosts.js'
import {RollbackResult, rollbackService} from '../../lifecycle/service-rollback.js'

export default class ServiceRollback extends OsctlCommand {
  static changesHosts = true
  static summary = 'Return a service to a previous revision: its exact image, container spec, config files and unit, and its databases.'
  static description = describe(
    'Default: the revision the current one replaced; --to REV picks another kept revision. Every host is checked first ' +
      '(revision exists, was healthy, image still present) and nothing changes anywhere if one fails. When the revision ' +
      'being left changed the image and a database snapshot was taken before it (`service upgrade` takes one), the ' +
      'databases are restored first; with no snapshot the rollback is refused unless --force. Hosts then go one at a ' +
      'time, each health-gated. A later `osctl deploy` re-applies the site configuration: fix it to keep the rollback.',
  )
  static examples = ['<%= config.bin %> service rollback keystone', '<%= config.bin %> service rollback nova --to 2 --limit control']
  static args = {
    service: Args.string({description: 'Service (keystone, nova …), or one container of a service (nova-api): refused when the revision being left also changed its other containers.', required: true}),
  }
  static flags = {
    ...siteFlags,
    to: Flags.integer({summary: 'Revision to return to (see `service history`).', min: 1}),
    force: Flags.boolean({summary: 'Roll back even when a needed database snapshot is missing.'}),
  }

  async run(): Promise<Envelope<RollbackResult>> {
    const {args, flags} = await this.parse(ServiceRollback)
    const ctx = await this.exclusive(await deployContext(flags))
    const {def, container} = requireServiceOrContainer(ctx, args.service)
    const result = await rollbackService(ctx, def, serviceHosts(ctx, def), {to: flags.to, force: flags.force, reporter: this.reporter(), container})
    if (!this.jsonEnabled()) {
      if (result.databaseRestored) this.log(`${def.name}: databases ${result.databaseRestored.databases.join(', ')} restored to before revision ${result.databaseRestored.revision}`)
      for (const r of result.results) this.log(`${r.host}: ${def.name} revision ${r.from} → ${r.to}${r.recreated.length ? ` (recreated ${r.recreated.join(', ')})` : ' (containers already matched)'}`)
    }
    return this.done(result, result.results.map((r) => outcome(r.host, {ok: true, changed: r.from !== r.to || r.recreated.length > 0})))
  }
}
