import {Args} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../deploy/deploy-context.js'
import {Ledger, RevisionRecord, listRevisions} from '../../deploy/ledger.js'
import {Journal, interruptedNotice} from '../../deploy/journal.js'
import {requireServiceOrContainer, serviceHosts} from '../../deploy/service-hosts.js'
import {fanOut} from '../../hosts/fan-out.js'

interface HostHistory {
  host: string
  current?: number
  revisions: Array<
    Pick<RevisionRecord, 'revision' | 'previous' | 'createdAt' | 'createdBy' | 'outcome' | 'error'> & {
      images: string[]
      changed: string[]
      /** Each container's image reference and the image id (digest) it resolved to. */
      containers: Array<{name: string; image: string; imageId: string}>
    }
  >
  error?: string
}

export default class ServiceHistory extends OsctlCommand {
  static summary = 'Revisions of a service on each host: when, by whom, images, what changed, outcome.'
  static description = describe('Read from the ledger each host keeps under /var/lib/osctl/services/<service>/.')
  static examples = ['<%= config.bin %> service history keystone', '<%= config.bin %> service history nova --json']
  static args = {service: Args.string({description: 'Service (keystone, nova …), or one container of a service (nova-api): the revisions of its service, with that container’s image.', required: true})}
  static flags = {...siteFlags}

  async run(): Promise<{service: string; container?: string; hosts: HostHistory[]}> {
    const {args, flags} = await this.parse(ServiceHistory)
    const ctx = await deployContext(flags)
    const {def, container} = requireServiceOrContainer(ctx, args.service)
    const targets = serviceHosts(ctx, def)
    const hosts = ctx.deps.connect(targets)
    try {
      const results = await fanOut(hosts, ctx.site.config.sshConcurrency, async (h): Promise<HostHistory> => {
        const records = await listRevisions(h, def.name)
        const pending = await new Journal(h).read(def.name)
        if (pending && pending.state !== 'mine') this.notice(interruptedNotice(pending.entry, pending.state))
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
            images: [...new Set(r.containers.filter((c) => !container || c.name === container).map((c) => c.image))],
            changed: [...new Set(r.containers.flatMap((c) => c.changed.map((x) => `${c.name}:${x}`)))],
            containers: r.containers.filter((c) => !container || c.name === container).map((c) => ({name: c.name, image: c.image, imageId: c.imageId})),
          })),
        }
      })
      const out = results.map((r) => r.value ?? {host: r.host, revisions: [], error: r.error?.headline})
      if (!this.jsonEnabled()) {
        for (const h of out) {
          this.log(`${h.host}${h.error ? `: ${h.error}` : ':'}`)
          if (h.error) continue
          this.log(`  REV  OUTCOME      CREATED                   BY                    ${container ? 'IMAGE' : 'CHANGED'}`)
          for (const r of h.revisions) {
            const mark = r.revision === h.current ? '*' : ' '
            const last = container ? r.containers.map((c) => `${c.image} (${c.imageId.slice(7, 19)})`).join(', ') : r.changed.join(', ') || '-'
            this.log(`${mark} ${String(r.revision).padEnd(4)} ${r.outcome.padEnd(12)} ${r.createdAt.padEnd(25)} ${r.createdBy.slice(0, 20).padEnd(21)} ${last}`)
          }
        }
      }
      this.successExitCode = results.every((r) => r.ok) ? 0 : results.some((r) => r.ok) ? 3 : 5
      return {service: def.name, ...(container ? {container} : {}), hosts: out}
    } finally {
      await Promise.all(hosts.map((h) => h.close().catch(() => {})))
    }
  }
}
