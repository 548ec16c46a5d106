import {Args} from '@oclif/core'

import {Envelope, fromFanOut} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {requireServiceOrContainer, serviceHosts} from '../../catalog/service-hosts.js'
import {interruptedNotice} from '../../revisions/journal.js'
import {HostHistory, formatHistory, serviceHistory} from '../../revisions/service-history.js'
import {deployContext} from '../../session/deploy-context.js'

export default class ServiceHistory extends OsctlCommand {
  static summary = 'Revisions of a service on each host: when, by whom, images, what changed, outcome.'
  static description = describe('Read from the ledger each host keeps under /var/lib/osctl/services/<service>/.')
  static examples = ['<%= config.bin %> service history keystone', '<%= config.bin %> service history nova --json']
  static args = {service: Args.string({description: 'Service (keystone, nova …), or one container of a service (nova-api): the revisions of its service, with that container’s image.', required: true})}
  static flags = {...siteFlags}

  async run(): Promise<Envelope<{service: string; container?: string}, Omit<HostHistory, 'host' | 'error'>>> {
    const {args, flags} = await this.parse(ServiceHistory)
    const ctx = this.closing(await deployContext(flags))
    const {def, container} = requireServiceOrContainer(ctx, args.service)
    const hosts = ctx.session.hostsFor(serviceHosts(ctx, def))
    const out = await serviceHistory(hosts, def.name, {container, concurrency: ctx.site.config.sshConcurrency, onPending: (p) => this.notice(interruptedNotice(p.entry, p.state))})
    if (!this.jsonEnabled()) for (const line of formatHistory(out.hosts, container)) this.log(line)
    return this.done({service: def.name, ...(container ? {container} : {})}, fromFanOut(out.results, (v, host) => v ?? {host, revisions: []}))
  }
}
