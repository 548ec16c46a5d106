import {Args} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../deploy/deploy-context.js'
import {Ledger, RevisionRecord, listRevisions} from '../../deploy/ledger.js'
import {requireService, serviceHosts} from '../../deploy/service-hosts.js'
import {fanOut} from '../../hosts/fan-out.js'

interface HostHistory {
  host: string
  current?: number
  revisions: Array<Pick<RevisionRecord, 'revision' | 'previous' | 'createdAt' | 'createdBy' | 'outcome' | 'error'> & {images: string[]; changed: string[]}>
  error?: string
}

export default class ServiceHistory extends OsctlCommand {
  static summary = 'Revisions of a service on each host: when, by whom, images, what changed, outcome.'
  static description = describe('Read from the ledger each host keeps under /var/lib/osctl/services/<service>/.')
  static examples = ['<%= config.bin %> service history keystone', '<%= config.bin %> service history nova --json']
  static args = {service: Args.string({description: 'Service (keystone, glance, nova …).', required: true})}
  static flags = {...siteFlags}

  async run(): Promise<{service: string; hosts: HostHistory[]}> {
    const {args, flags} = await this.parse(ServiceHistory)
    const ctx = await deployContext(flags)
    const def = requireService(ctx, args.service)
    const targets = serviceHosts(ctx, def)
    const hosts = ctx.deps.connect(targets)
    try {
      const results = await fanOut(hosts, ctx.site.config.sshConcurrency, async (h): Promise<HostHistory> => {
        const records = await listRevisions(h, def.name)
        return {
          host: h.name,
          current: await new Ledger(h).currentNumber(def.name),
          revisions: records.map((r) => ({
            revision: r.revision,
            previous: r.previous,
            createdAt: r.createdAt,
            createdBy: r.createdBy,
            outcome: r.outcome,
            error: r.error,
            images: [...new Set(r.containers.map((c) => c.image))],
            changed: [...new Set(r.containers.flatMap((c) => c.changed.map((x) => `${c.name}:${x}`)))],
          })),
        }
      })
      const out = results.map((r) => r.value ?? {host: r.host, revisions: [], error: r.error?.headline})
      if (!this.jsonEnabled()) {
        for (const h of out) {
          this.log(`${h.host}${h.error ? `: ${h.error}` : ':'}`)
          if (h.error) continue
          this.log('  REV  OUTCOME      CREATED                   BY                    CHANGED')
          for (const r of h.revisions) {
            const mark = r.revision === h.current ? '*' : ' '
            this.log(`${mark} ${String(r.revision).padEnd(4)} ${r.outcome.padEnd(12)} ${r.createdAt.padEnd(25)} ${r.createdBy.slice(0, 20).padEnd(21)} ${r.changed.join(', ') || '-'}`)
          }
        }
      }
      this.successExitCode = results.every((r) => r.ok) ? 0 : results.some((r) => r.ok) ? 3 : 5
      return {service: def.name, hosts: out}
    } finally {
      await Promise.all(hosts.map((h) => h.close().catch(() => {})))
    }
  }
}
