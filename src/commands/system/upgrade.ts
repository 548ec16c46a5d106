import {Args} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {tagFlag} from '../../cli/flags.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {ApplyResult} from '../../system/manager.js'
import {upgradeSystem} from '../../system/system-flows.js'
import {systemTargets} from '../../system/system-targets.js'

export default class SystemUpgrade extends OsctlCommand {
  static changesHosts = true
  static summary = 'Upgrade a system container to another image tag, one host at a time, with automatic rollback.'
  static description = describe(
    'The new revision is unpacked into the free slot while the current one keeps running, then swapped in and health-checked. ' +
      'If it does not become healthy in time the previous slot is restored and the command exits 4. Hosts go one at a time so a cluster (etcd) keeps quorum; the first failure stops the rest.',
  )
  static examples = ['<%= config.bin %> system upgrade etcd --tag 2', '<%= config.bin %> system upgrade registry --tag 2 --json']
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {...siteFlags, tag: tagFlag({summary: 'Image tag in the site registry.', required: true})}

  async run(): Promise<Envelope<{results: ApplyResult[]}>> {
    const {args, flags} = await this.parse(SystemUpgrade)
    const {site, targets, close} = await systemTargets(flags, args.name)
    await this.lockSite(site)
    try {
      const results = await upgradeSystem(site, targets, flags.tag, this.reporter(), (r) => {
        if (!this.jsonEnabled()) this.log(`${r.host}: ${r.name} ${r.status} → revision ${r.revision} (${r.image})`)
      })
      return this.done({results}, results.map((r) => outcome(r.host, {ok: true, changed: r.status !== 'unchanged'})))
    } finally {
      await close()
    }
  }
}
