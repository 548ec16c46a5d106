import {Args} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {systemTargets} from '../../cli/system-targets.js'
import {HistoryEntry} from '../../system/layout.js'
import {SlotStore} from '../../system/slot-store.js'

export default class SystemHistory extends OsctlCommand {
  static summary = 'Revisions of a system container on each host.'
  static description = describe('Every install, upgrade and rollback is a numbered revision with its image and outcome.')
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {...siteFlags}

  async run(): Promise<{hosts: Array<{host: string; current?: number; history: HistoryEntry[]}>}> {
    const {args, flags} = await this.parse(SystemHistory)
    const {targets, close} = await systemTargets(flags, args.name)
    try {
      const hosts = await Promise.all(
        targets.map(async (t) => {
          const st = await new SlotStore(t.host).read(args.name)
          return {host: t.siteHost.name, current: st.current?.revision, history: st.history}
        }),
      )
      if (!this.jsonEnabled()) {
        for (const h of hosts) {
          this.log(`${h.host}:`)
          this.log('  REV  SLOT  ACTION    OUTCOME      AT                        IMAGE')
          for (const e of h.history) {
            const mark = e.revision === h.current && e.outcome === 'active' ? '*' : ' '
            this.log(`${mark} ${String(e.revision).padEnd(4)} ${String(e.slot).padEnd(5)} ${e.action.padEnd(9)} ${e.outcome.padEnd(12)} ${e.at.padEnd(25)} ${e.image}${e.reason ? `  (${e.reason})` : ''}`)
          }
        }
      }
      return {hosts}
    } finally {
      await close()
    }
  }
}
