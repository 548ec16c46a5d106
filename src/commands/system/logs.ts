import {Args} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {Envelope, fromFanOut} from '../../cli/envelope.js'
import {checkFollow, logFlags, parseSince} from '../../cli/since.js'
import {fanOut} from '../../hosts/fan-out.js'
import {hostLogs, journalArgs, linePrefixer} from '../../ops/host-logs.js'
import {unitName} from '../../system/unit.js'
import {systemTargets} from '../../system/system-targets.js'

export default class SystemLogs extends OsctlCommand {
  static summary = 'The journal of a system container’s unit (osctl-NAME.service) on each host that runs it.'
  static description = describe('journalctl -u osctl-NAME.service on the host; --follow streams until Ctrl-C, each line prefixed with its host when several hosts are followed.')
  static examples = ['<%= config.bin %> system logs etcd --since 10m', '<%= config.bin %> system logs registry --limit ctl-1 --follow']
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {...siteFlags, ...logFlags}

  async run(): Promise<Envelope<{name: string}, {text: string}>> {
    const {args, flags} = await this.parse(SystemLogs)
    const since = flags.since === undefined ? undefined : parseSince(flags.since)
    checkFollow(flags.follow, this.jsonEnabled())
    const {site, targets, close} = await systemTargets(flags, args.name)
    try {
      const many = targets.length > 1
      const results = await fanOut(targets.map((t) => ({...t, name: t.siteHost.name})), site.config.sshConcurrency, (t) => {
        const out = (text: string) => process.stdout.write(text)
        const sink = flags.follow ? (many ? linePrefixer(t.name, out) : out) : undefined
        return hostLogs(t.host, journalArgs(unitName(args.name), {tail: flags.tail, since, follow: flags.follow}), sink)
      })
      const hosts = fromFanOut(results, (text) => ({text: text ?? ''}))
      if (!this.jsonEnabled()) {
        for (const h of hosts) {
          if (!flags.follow) {
            if (many) this.log(`==> ${h.host} <==`)
            process.stdout.write(h.text.endsWith('\n') || h.text === '' ? h.text : `${h.text}\n`)
          }
          if (h.error) this.notice(`${h.host}: ${h.error.message}`)
        }
      }
      return this.done({name: args.name}, hosts)
    } finally {
      await close()
    }
  }
}
