import {Args, Flags} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {tagFlag} from '../../cli/flags.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../session/deploy-context.js'
import {requireServiceOrContainer, serviceHosts} from '../../catalog/service-hosts.js'
import {UpgradeResult, upgradeService} from '../../lifecycle/service-upgrade.js'

export default class ServiceUpgrade extends OsctlCommand {
  static changesHosts = true
  static summary = 'Upgrade one service to another image tag, in batches, health-gated, with automatic rollback.'
  static description = describe(
    'Checks the tag exists in the site registry, pulls it on every target host first, then recreates the service ' +
      'containers --serial hosts at a time (migrations run once, with the new image, on the first host). A batch ' +
      'that does not become healthy is restored to its previous revision and the command exits 4; later batches ' +
      'are not touched. `osctl service rollback` returns to the previous revision afterwards. When only the image of ' +
      'a uwsgi API (keystone, placement, nova-api) changed, within one OpenStack release, its previous container stays running beside the new one, ' +
      'loaded and taking no request, for osctl.yml rollback_standby seconds (default 600): a rollback meanwhile swaps ' +
      'it back without loading the app.',
  )
  static examples = ['<%= config.bin %> service upgrade keystone --tag 2', '<%= config.bin %> service upgrade nova-api --tag 2 --serial 1 --json']
  static args = {service: Args.string({description: 'Service (keystone, nova …) or one container of a service (nova-api): then only its image changes.', required: true})}
  static flags = {
    ...siteFlags,
    tag: tagFlag({summary: 'Image tag in the site registry.', required: true}),
    serial: Flags.integer({summary: 'Hosts changed at once.', default: 1, min: 1}),
  }

  async run(): Promise<Envelope<UpgradeResult>> {
    const {args, flags} = await this.parse(ServiceUpgrade)
    const ctx = await this.exclusive(await deployContext(flags))
    const {def, container} = requireServiceOrContainer(ctx, args.service)
    const result = await upgradeService(ctx, def, serviceHosts(ctx, def), {tag: flags.tag, serial: flags.serial, reporter: this.reporter(), containers: container ? [container] : undefined})
    if (!this.jsonEnabled()) this.log(`${container ?? def.name}: upgraded to ${flags.tag} on ${result.upgraded.join(', ')}`)
    return this.done(result, result.upgraded.map((h) => outcome(h, {ok: true, changed: true})))
  }
}
