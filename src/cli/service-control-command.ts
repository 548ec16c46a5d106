import {Args} from '@oclif/core'

import {balancerFor} from '../apply/balancer.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {requireServiceOrContainer, serviceHosts} from '../catalog/service-hosts.js'
import {ControlAction, ControlResult, controlService} from '../ops/service-control.js'
import {deployContext} from '../session/deploy-context.js'
import {errorMessage, isOsctlError} from '../errors.js'
import {Envelope, HostOutcome, outcome} from './envelope.js'
import {throwIfInterrupted} from './interrupt.js'

export type ControlEnvelope = Envelope<{service: string; action: ControlAction}, {containers: ControlResult[]}>

const WHAT: Record<ControlAction, string> = {
  stop: 'Stop a service’s containers through their systemd units (`systemctl disable --now`): they stay stopped across reboots and engine restarts until `osctl service start` (or a deploy) starts them.',
  start: 'Start a service’s containers through their systemd units (`systemctl enable --now`) and wait until each passes its health check.',
  restart: 'Restart a service’s containers through their systemd units (same containers, new processes), one host at a time, each health-gated before the next host.',
}

/** service stop|start|restart: the same flags, hosts one at a time, per-host outcomes. */
export abstract class ServiceControlCommand extends OsctlCommand {
  static changesHosts = true
  static args = {service: Args.string({description: 'Service (keystone …) or one container of a service (nova-api).', required: true})}
  static flags = {...siteFlags}

  static describeAction(action: ControlAction): {summary: string; description: string; examples: string[]} {
    return {
      summary: WHAT[action],
      description: describe(
        'Hosts are done one at a time (--limit picks them). With internal_vip, each host’s backend is drained in every haproxy first (its requests finished; SQL: the services’ connection recycle time) and taken back once healthy and warmed, or, after a stop, once haproxy’s checks see it answer again. A container that does not become healthy after start/restart fails its host (exit 1, or 3 when other hosts succeeded); the hosts after it are still done. ' +
          'A service with an interrupted upgrade or rollback is refused on that host until `service upgrade`/`rollback` completes or undoes it.',
      ),
      examples: [`<%= config.bin %> service ${action} keystone`, `<%= config.bin %> service ${action} nova-api --limit ctl-1 --json`],
    }
  }

  protected async control(action: ControlAction, argv: {service: string; site: string; limit?: string}): Promise<ControlEnvelope> {
    const ctx = await this.exclusive(await deployContext({site: argv.site, limit: argv.limit}))
    const {def, container} = requireServiceOrContainer(ctx, argv.service)
    const balancer = balancerFor(ctx.site, ctx.session, this.reporter())
    const hosts: Array<HostOutcome & {containers: ControlResult[]}> = []
    for (const h of serviceHosts(ctx, def)) {
      throwIfInterrupted(`${action} of ${argv.service} on ${h.name}`)
      try {
        const containers = await controlService(ctx.session.host(h), ctx.session.docker(h), def.name, action, container, balancer)
        hosts.push(outcome(h.name, {ok: true, changed: containers.some((c) => c.status !== 'unchanged'), containers}))
        if (!this.jsonEnabled()) for (const c of containers) this.log(`${h.name}: ${c.container} ${c.status}${c.health ? ` (${c.health})` : ''}`)
      } catch (err) {
        if (isOsctlError(err) && err.code === 'INTERRUPTED') throw err
        hosts.push(outcome(h.name, {ok: false, error: err, containers: []}))
        if (!this.jsonEnabled()) this.log(`${h.name}: FAILED ${errorMessage(err)}`)
      }
    }
    return this.done({service: argv.service, action}, hosts)
  }
}

/** The command of one action (service stop, start, restart): the three differ only in it. */
export function serviceControlCommand(action: ControlAction) {
  const about = ServiceControlCommand.describeAction(action)
  class ServiceControl extends ServiceControlCommand {
    static summary = about.summary
    static description = about.description
    static examples = about.examples
    // Own statics: oclif's parse copies the class's own properties, not inherited ones.
    static args = ServiceControlCommand.args
    static flags = ServiceControlCommand.flags

    async run(): Promise<ControlEnvelope> {
      const {args, flags} = await this.parse(ServiceControl)
      return this.control(action, {service: args.service, ...flags})
    }
  }
  return ServiceControl
}
