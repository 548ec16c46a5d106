import {Args, Flags} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {systemTargets} from '../../cli/system-targets.js'
import {OsctlError} from '../../errors.js'
import {ApplyResult, SystemManager} from '../../system/manager.js'
import {SlotInfo} from '../../system/layout.js'
import {SYSTEM_KEEP_REVISIONS} from '../../system/revisions.js'
import {RollbackPlan} from '../../system/rollback-plan.js'

export default class SystemRollback extends OsctlCommand {
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

  async run(): Promise<{results: ApplyResult[]}> {
    const {args, flags} = await this.parse(SystemRollback)
    const {targets, close} = await systemTargets(flags, args.name)
    const reporter = this.reporter()
    const results: ApplyResult[] = []
    try {
      // Plan on every host first: a revision one host cannot return to changes nothing anywhere.
      // With --to, a host already running REV (say a previous run stopped halfway) is left alone.
      const plans: Array<RollbackPlan | ApplyResult> = []
      let alreadyThere: OsctlError | undefined
      for (const t of targets) {
        try {
          plans.push(await new SystemManager(t.host, reporter).planRollback(args.name, {to: flags.to, force: flags.force}))
        } catch (err) {
          const current = err instanceof OsctlError && flags.to !== undefined ? (err.details as {alreadyCurrent?: SlotInfo} | undefined)?.alreadyCurrent : undefined
          if (!current) throw err
          alreadyThere ??= err as OsctlError
          plans.push({name: current.name, host: t.siteHost.name, status: 'unchanged', revision: current.revision, slot: current.slot, image: current.image})
        }
      }
      if (alreadyThere && plans.every((p) => 'status' in p)) throw alreadyThere
      for (const [i, t] of targets.entries()) {
        const plan = plans[i]
        const r = 'status' in plan ? plan : await new SystemManager(t.host, reporter).executeRollback(t.def, t.ctx, plan)
        results.push(r)
        if (!this.jsonEnabled()) this.log(`${t.siteHost.name}: ${r.name} ${r.status === 'unchanged' ? 'already at' : 'back to'} revision ${r.revision} (${r.image})`)
      }
    } catch (err) {
      const done = results.filter((r) => r.status !== 'unchanged')
      if (err instanceof OsctlError && done.length) {
        throw new OsctlError(err.code, `${err.message} (already rolled back: ${done.map((r) => r.host).join(', ')})`, {exitCode: err.exitCode, hint: err.hint, details: err.details, location: err.location})
      }
      throw err
    } finally {
      await close()
    }
    return {results}
  }
}
