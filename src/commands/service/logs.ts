import {Args, Flags} from '@oclif/core'

import {Envelope, hostError, targetOutcomes} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../session/deploy-context.js'
import {checkServiceName, serviceRows} from '../../ops/service-inventory.js'
import {OsctlError} from '../../errors.js'
import {selectHosts} from '../../site/select-hosts.js'

export default class ServiceLogs extends OsctlCommand {
  static summary = 'Docker logs of a service’s containers (stdout and stderr), from each host that runs them.'
  static description = describe('NAME is a service (all its containers) or a container. --host picks one host; default every host running it.')
  static examples = ['<%= config.bin %> service logs keystone --tail 50', '<%= config.bin %> service logs mariadb --host lab-1 --json']
  static args = {name: Args.string({description: 'Service or container name.', required: true})}
  static flags = {
    site: siteFlags.site,
    host: Flags.string({summary: 'Only this host (inventory name).'}),
    tail: Flags.integer({summary: 'Only the last N lines.', default: 100, min: 1}),
  }

  async run(): Promise<Envelope<{logs: Array<{host: string; container: string; text: string}>}>> {
    const {args, flags} = await this.parse(ServiceLogs)
    const ctx = this.closing(await deployContext({site: flags.site, limit: flags.host}))
    if (flags.host) selectHosts(ctx.site, flags.host)
    checkServiceName(ctx, args.name)
    const {rows, errors} = await serviceRows(ctx, {name: args.name, health: false})
    if (rows.length === 0 && errors.length === 0) {
      throw new OsctlError('COMMAND_FAILED', `no container of ${args.name} on ${flags.host ?? 'any host'}`, {hint: '`osctl service list` shows what runs where'})
    }
    const logs: Array<{host: string; container: string; text: string}> = []
    const failed: Array<{host: string; error: unknown}> = [...errors]
    for (const r of rows) {
      if (failed.some((f) => f.host === r.host)) continue
      const docker = ctx.session.docker(ctx.site.hosts.find((h) => h.name === r.host)!)
      try {
        logs.push({host: r.host, container: r.container, text: await docker.containerLogs(r.container, flags.tail)})
      } catch (err) {
        failed.push({host: r.host, error: err})
      }
    }
    if (!this.jsonEnabled()) {
      for (const l of logs) {
        if (logs.length > 1) this.log(`==> ${l.host}/${l.container} <==`)
        process.stdout.write(l.text.endsWith('\n') || l.text === '' ? l.text : `${l.text}\n`)
      }
      // Hosts that could not be asked are said, never left out.
      for (const f of failed) this.notice(`${f.host}: ${hostError(f.error).message}`)
    }
    return this.done({logs}, targetOutcomes(ctx.targets, failed))
  }
}
