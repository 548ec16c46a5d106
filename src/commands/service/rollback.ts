import {Args, Flags} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../deploy/deploy-context.js'
import {RestoreResult, RevisionRestorer} from '../../deploy/revision-restore.js'
import {requireService, serviceHosts} from '../../deploy/service-hosts.js'

export default class ServiceRollback extends OsctlCommand {
  static summary = 'Return a service to a previous revision: its exact image, container spec, config files and unit.'
  static description = describe(
    'Default: the revision the current one replaced; --to REV picks another kept revision. Hosts go one at a time and ' +
      'each is health-gated before the next, so a multi-host service keeps serving. Every host is checked first ' +
      '(revision exists, healthy once, image still present) and nothing changes anywhere if one fails. ' +
      'A later `osctl deploy` re-applies the site configuration: fix it (or the override) to keep the rollback. ' +
      'Databases are not restored by this command yet.',
  )
  static examples = ['<%= config.bin %> service rollback keystone', '<%= config.bin %> service rollback nova --to 2 --limit control']
  static args = {service: Args.string({description: 'Service (keystone, glance, nova …).', required: true})}
  static flags = {...siteFlags, to: Flags.integer({summary: 'Revision to return to (see `service history`).', min: 1})}

  async run(): Promise<{results: RestoreResult[]}> {
    const {args, flags} = await this.parse(ServiceRollback)
    const ctx = await deployContext(flags)
    const def = requireService(ctx, args.service)
    const targets = serviceHosts(ctx, def)
    const hosts = ctx.deps.connect(targets)
    const dockers = targets.map((t) => ctx.deps.docker(t))
    const reporter = this.reporter()
    const restorers = hosts.map((h, i) => new RevisionRestorer(h, dockers[i], reporter))
    const results: RestoreResult[] = []
    try {
      for (const r of restorers) await r.target(def.name, flags.to)
      for (const r of restorers) {
        const res = await r.restore(def.name, flags.to)
        results.push(res)
        if (!this.jsonEnabled()) this.log(`${res.host}: ${def.name} revision ${res.from} → ${res.to}${res.recreated.length ? ` (recreated ${res.recreated.join(', ')})` : ' (containers already matched)'}`)
      }
    } finally {
      await Promise.all([...hosts.map((h) => h.close()), ...dockers.map((d) => d.close?.())].map((p) => Promise.resolve(p).catch(() => {})))
    }
    return {results}
  }
}
