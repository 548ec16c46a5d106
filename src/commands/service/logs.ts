import {Args, Flags} from '@oclif/core'

import {Envelope, hostError, targetOutcomes} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../session/deploy-context.js'
import {checkServiceName, serviceRows} from '../../ops/service-inventory.js'
import {OsctlError} from '../../errors.js'
import {selectHosts} from '../../site/select-hosts.js'
import {checkFollow, logFlags, parseSince} from '../../cli/since.js'
import {dockerLogsArgs, hostLogs, linePrefixer} from '../../ops/host-logs.js'

export default class ServiceLogs extends OsctlCommand {
  static summary = 'Docker logs of a service’s containers (stdout and stderr), from each host that runs them.'
  static description = describe('NAME is a service (all its containers) or a container. --host picks one host; default every host running it. --follow streams until Ctrl-C (each line prefixed with host/container when several are followed).')
  static examples = ['<%= config.bin %> service logs keystone --tail 50', '<%= config.bin %> service logs mariadb --host lab-1 --json', '<%= config.bin %> service logs keystone --since 10m --follow']
  static args = {name: Args.string({description: 'Service or container name.', required: true})}
  static flags = {
    site: siteFlags.site,
    host: Flags.string({summary: 'Only this host (inventory name).'}),
    ...logFlags,
  }

  async run(): Promise<Envelope<{logs: Array<{host: string; container: string; text: string}>}>> {
    const {args, flags} = await this.parse(ServiceLogs)
    const since = flags.since === undefined ? undefined : parseSince(flags.since)
    checkFollow(flags.follow, this.jsonEnabled())
    const ctx = this.closing(await deployContext({site: flags.site, limit: flags.host}))
    if (flags.host) selectHosts(ctx.site, flags.host)
    checkServiceName(ctx, args.name)
    const {rows, errors} = await serviceRows(ctx, {name: args.name, health: false})
    if (rows.length === 0 && errors.length === 0) {
      throw new OsctlError('COMMAND_FAILED', `no container of ${args.name} on ${flags.host ?? 'any host'}`, {hint: '`osctl service list` shows what runs where'})
    }
    const logs: Array<{host: string; container: string; text: string}> = []
    const failed: Array<{host: string; error: unknown}> = [...errors]
    const read = async (r: (typeof rows)[number]): Promise<string> => {
      const siteHost = ctx.site.hosts.find((h) => h.name === r.host)!
      // The engine API has no --since/--follow in osctl's client: the host's docker CLI does both, streamed over the session.
      if (since === undefined && !flags.follow) return ctx.session.docker(siteHost).containerLogs(r.container, flags.tail)
      const out = (text: string) => process.stdout.write(text)
      const sink = flags.follow ? (rows.length > 1 ? linePrefixer(`${r.host}/${r.container}`, out) : out) : undefined
      return hostLogs(ctx.session.host(siteHost), dockerLogsArgs(r.container, {tail: flags.tail, since, follow: flags.follow}), sink)
    }
    // Read side by side (followed ones stream as they come); printed afterwards in order.
    const live = rows.filter((r) => !failed.some((f) => f.host === r.host))
    const texts = await Promise.all(live.map((r) => read(r).then((text) => ({text}), (error: unknown) => ({error}))))
    for (const [i, r] of live.entries()) {
      const t = texts[i]
      if ('text' in t) logs.push({host: r.host, container: r.container, text: t.text})
      else failed.push({host: r.host, error: t.error})
    }
    if (!this.jsonEnabled() && !flags.follow) {
      for (const l of logs) {
        if (logs.length > 1) this.log(`==> ${l.host}/${l.container} <==`)
        process.stdout.write(l.text.endsWith('\n') || l.text === '' ? l.text : `${l.text}\n`)
      }
    }
    // Hosts that could not be asked are said, never left out.
    if (!this.jsonEnabled()) for (const f of failed) this.notice(`${f.host}: ${hostError(f.error).message}`)
    return this.done({logs}, targetOutcomes(ctx.targets, failed))
  }
}
