import {Args, Flags} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {HostRemoveResult, RemoveStep, removeHost} from '../../membership/host-remove.js'
import {deployContext} from '../../session/deploy-context.js'

export default class HostRemove extends OsctlCommand {
  static changesHosts = true
  static summary = 'Remove a host from inventory.yml; one that runs osctl services only with --drain, which stops them first.'
  static description = describe(
    'The host is asked what osctl runs there (service containers, system containers). Nothing: it leaves the inventory at once. ' +
      'Something: refused (exit 2) unless --drain, which disables its nova-compute service in nova, stops and removes its service ' +
      'containers, units and configs (volumes are kept), deletes the nova-compute service and its neutron agents, removes it from the etcd cluster (asked of ' +
      'another member, before its etcd stops), then edits inventory.yml. The deploy host and the host running mariadb are refused.',
  )
  static examples = ['<%= config.bin %> host remove compute-3', '<%= config.bin %> host remove compute-3 --drain --json']
  static args = {name: Args.string({description: 'Inventory name of the host.', required: true})}
  static flags = {
    site: siteFlags.site,
    drain: Flags.boolean({summary: 'Stop and remove what osctl runs on the host (leaving nova and etcd cleanly) before removing it.'}),
  }

  async run(): Promise<Envelope<Omit<HostRemoveResult, 'host'>>> {
    const {args, flags} = await this.parse(HostRemove)
    const ctx = await this.exclusive(await deployContext({site: flags.site}))
    const say = (s: RemoveStep) => {
      if (!this.jsonEnabled()) this.log(`${args.name}: ${describeStep(s)}`)
    }
    const {host, ...result} = await removeHost(ctx.site, args.name, {drain: flags.drain, onStep: say}, {host: (h) => ctx.session.host(h), docker: (h) => ctx.session.docker(h)})
    return this.done(result, [outcome(host, {ok: true, changed: true})])
  }
}

function describeStep(s: RemoveStep): string {
  switch (s.kind) {
    case 'nova-disable': return `nova-compute service disabled (via ${s.via})`
    case 'stop-services': return `stopped and removed ${s.containers.join(', ')}`
    case 'nova-delete': return `nova-compute service deleted (via ${s.via})`
    case 'neutron-agents-delete': return `neutron agents deleted (via ${s.via})`
    case 'etcd-member-remove': return `left the etcd cluster (member ${s.id}, via ${s.via})`
    case 'system-remove': return `system container ${s.name} removed`
    case 'inventory': return 'removed from inventory.yml'
  }
}
