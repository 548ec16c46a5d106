import {Args} from '@oclif/core'

import {Envelope, fromFanOut} from '../../cli/envelope.js'
import {fanOut} from '../../hosts/fan-out.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {systemTargets} from '../../system/system-targets.js'
import {HistoryEntry} from '../../system/layout.js'
import {RevisionStore, SYSTEM_KEEP_REVISIONS} from '../../system/revisions.js'
import {SlotStore} from '../../system/slot-store.js'

export interface HostSystemHistory {
  host: string
  current?: number
  /** Revisions whose rootfs, config.json and unit are still on the host (slots, or OCI store + record). */
  kept: number[]
  /** Each entry says whether its revision is kept: what `system rollback --to` can return to. */
  history: Array<HistoryEntry & {kept: boolean}>
}

export default class SystemHistory extends OsctlCommand {
  static summary = 'Revisions of a system container on each host, and which can still be rolled back to.'
  static description = describe(
    'Every install, upgrade and rollback is a numbered revision with its image and outcome. ' +
      `KEPT: the host still has the revision (a slot, or its image in the OCI store and its record); it keeps the running revision, the ${SYSTEM_KEEP_REVISIONS} before it and both slots. ` +
      '`system rollback NAME --to REV` returns to a kept revision.',
  )
  static examples = ['<%= config.bin %> system history etcd', '<%= config.bin %> system history registry --json']
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {...siteFlags}

  async run(): Promise<Envelope<{name: string}, Omit<HostSystemHistory, 'host'>>> {
    const {args, flags} = await this.parse(SystemHistory)
    const {site, targets, close} = await systemTargets(flags, args.name)
    try {
      const results = await fanOut(targets.map((t) => ({...t, name: t.siteHost.name})), site.config.sshConcurrency, async (t): Promise<HostSystemHistory> => {
          const st = await new SlotStore(t.host).read(args.name)
          const {kept} = await new RevisionStore(t.host).inventory(args.name, st)
          return {
            host: t.siteHost.name,
            current: st.current?.revision,
            kept: [...kept].sort((a, b) => a - b),
            history: st.history.map((e) => ({...e, kept: kept.has(e.revision)})),
          }
        })
      const hosts = fromFanOut(results, (v): Omit<HostSystemHistory, 'host'> => v ?? {kept: [], history: []})
      if (!this.jsonEnabled()) {
        for (const h of hosts) {
          if (h.error) {
            this.log(`${h.host}: ${h.error.message}`)
            continue
          }
          this.log(`${h.host}:`)
          this.log('  REV  SLOT  ACTION    OUTCOME      KEPT  AT                        IMAGE')
          for (const e of h.history) {
            const mark = e.revision === h.current && e.outcome === 'active' ? '*' : ' '
            this.log(`${mark} ${String(e.revision).padEnd(4)} ${String(e.slot).padEnd(5)} ${e.action.padEnd(9)} ${e.outcome.padEnd(12)} ${(e.kept ? 'yes' : 'no').padEnd(5)} ${e.at.padEnd(25)} ${e.image}${e.reason ? `  (${e.reason})` : ''}`)
          }
        }
      }
      return this.done({name: args.name}, hosts)
    } finally {
      await close()
    }
  }
}
