import {Args} from '@oclif/core'

import {Envelope, HostOutcome, outcome} from '../../cli/envelope.js'
import {throwIfInterrupted} from '../../cli/interrupt.js'
import {OsctlCommand, describe, siteFlags, yesFlag} from '../../base-command.js'
import {systemTargets} from '../../system/system-targets.js'
import {OsctlError, errorMessage} from '../../errors.js'
import {SystemManager} from '../../system/manager.js'

export default class SystemRemove extends OsctlCommand {
  static changesHosts = true
  static summary = 'Stop and remove a system container (unit, slots, image store entries); its data directory is kept.'
  static description = describe('Needs --yes. Data under /var/lib/osctl/data/NAME stays so a later bootstrap finds it again.')
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {...siteFlags, yes: yesFlag}

  async run(): Promise<Envelope<{removed: string[]}>> {
    const {args, flags} = await this.parse(SystemRemove)
    const {site, targets, close} = await systemTargets(flags, args.name)
    await this.lockSite(site)
    if (!flags.yes) {
      await close()
      throw new OsctlError('USAGE', `refusing to remove ${args.name} from ${targets.map((t) => t.siteHost.name).join(', ')} without --yes`, {location: '--yes', hint: 'Add --yes to confirm.'})
    }
    const hosts: HostOutcome[] = []
    try {
      for (const t of targets) {
        throwIfInterrupted(`removing ${args.name} from ${t.siteHost.name}`)
        try {
          await new SystemManager(t.host, this.reporter()).remove(args.name)
          hosts.push(outcome(t.siteHost.name, {ok: true, changed: true}))
          if (!this.jsonEnabled()) this.log(`${t.siteHost.name}: ${args.name} removed (data kept)`)
        } catch (err) {
          hosts.push(outcome(t.siteHost.name, {ok: false, error: err}))
          if (!this.jsonEnabled()) this.log(`${t.siteHost.name}: FAILED ${errorMessage(err)}`)
        }
      }
    } finally {
      await close()
    }
    return this.done({removed: hosts.filter((h) => h.ok).map((h) => h.host)}, hosts)
  }
}
