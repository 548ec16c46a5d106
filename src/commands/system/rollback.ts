import {Args, Flags} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {systemTargets} from '../../system/system-targets.js'
import {ApplyResult} from '../../system/manager.js'
import {SYSTEM_KEEP_REVISIONS} from '../../system/revisions.js'
import {rollbackSystem} from '../../system/system-flows.js'

export default class SystemRollback extends OsctlCommand {
  static changesHosts = true
  static summary = 'Return a system container to its previous revision, or to any kept one with --to (rootfs, config.json and unit).'
  static description = describe(
    'Without --to: the revision that ran before the current one (two rollbacks in a row undo each other). ' +
      `A host keeps the running revision, the ${SYSTEM_KEEP_REVISIONS} before it and both slots; \`system history\` shows which (KEPT). ` +
      'A revision in the other slot is a link flip; an older one is unpacked again from the host\'s OCI store. ' +
      'Every host is checked before any changes; then one host at a time, each health-checked: if the revision does not become healthy, the one that ran is restored and the command exits 4. Data directories are untouched.',
  )
  static examples = ['<%= config.bin %> system rollback etcd', '<%= config.bin %> system rollback etcd --to 1', '<%= config.bin %> system rollback registry --to 3 --force --json']
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {
    ...siteFlags,
    to: Flags.integer({summary: 'Revision to return to (see `system history`); default: the previous one.', min: 1}),
    force: Flags.boolean({summary: 'Roll back even to a revision that failed its health check.'}),
  }

  async run(): Promise<Envelope<{results: ApplyResult[]}>> {
    const {args, flags} = await this.parse(SystemRollback)
    const {site, targets, close} = await systemTargets(flags, args.name)
    await this.lockSite(site)
    try {
      const results = await rollbackSystem(args.name, targets, {to: flags.to, force: flags.force}, this.reporter(), (r) => {
        if (!this.jsonEnabled()) this.log(`${r.host}: ${r.name} ${r.status === 'unchanged' ? 'already at' : 'back to'} revision ${r.revision} (${r.image})`)
      })
      return this.done({results}, results.map((r) => outcome(r.host, {ok: true, changed: r.status !== 'unchanged'})))
    } finally {
      await close()
    }
  }
}
