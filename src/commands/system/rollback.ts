import {Args, Flags} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {systemTargets} from '../../cli/system-targets.js'
import {ApplyResult, SystemManager} from '../../system/manager.js'

export default class SystemRollback extends OsctlCommand {
  static summary = 'Return a system container to its previous revision (previous rootfs, config.json and unit).'
  static description = describe('Flips back to the other slot and restarts, one host at a time; data directories are untouched.')
  static examples = ['<%= config.bin %> system rollback etcd']
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {...siteFlags, force: Flags.boolean({summary: 'Roll back even to a revision that failed its health check.'})}

  async run(): Promise<{results: ApplyResult[]}> {
    const {args, flags} = await this.parse(SystemRollback)
    const {targets, close} = await systemTargets(flags, args.name)
    const results: ApplyResult[] = []
    try {
      for (const t of targets) {
        const r = await new SystemManager(t.host, this.reporter()).rollback(t.def, t.ctx, flags.force)
        results.push(r)
        if (!this.jsonEnabled()) this.log(`${t.siteHost.name}: ${r.name} back to revision ${r.revision} (${r.image})`)
      }
    } finally {
      await close()
    }
    return {results}
  }
}
