import {Args, Flags} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {imageRef} from '../../bootstrap/system-context.js'
import {systemTargets} from '../../cli/system-targets.js'
import {OsctlError} from '../../errors.js'
import {ApplyResult, SystemManager} from '../../system/manager.js'

export default class SystemUpgrade extends OsctlCommand {
  static summary = 'Upgrade a system container to another image tag, one host at a time, with automatic rollback.'
  static description = describe(
    'The new revision is unpacked into the free slot while the current one keeps running, then swapped in and health-checked. ' +
      'If it does not become healthy in time the previous slot is restored and the command exits 4. Hosts go one at a time so a cluster (etcd) keeps quorum; the first failure stops the rest.',
  )
  static examples = ['<%= config.bin %> system upgrade etcd --tag 2', '<%= config.bin %> system upgrade registry --tag 2 --json']
  static args = {name: Args.string({description: 'System container (etcd, registry).', required: true})}
  static flags = {...siteFlags, tag: Flags.string({summary: 'Image tag in the site registry.', required: true})}

  async run(): Promise<{results: ApplyResult[]}> {
    const {args, flags} = await this.parse(SystemUpgrade)
    const {site, targets, close} = await systemTargets(flags, args.name)
    const reporter = this.reporter()
    const ref = imageRef(site, targets[0].def.image, flags.tag)
    const results: ApplyResult[] = []
    try {
      // Resolve the image once before touching any host: a missing tag changes nothing anywhere.
      await new SystemManager(targets[0].host, reporter).imageId({kind: 'registry', ref})
      for (const t of targets) {
        const r = await new SystemManager(t.host, reporter).apply(t.def, t.ctx, {kind: 'registry', ref}, 'upgrade')
        results.push(r)
        if (!this.jsonEnabled()) this.log(`${t.siteHost.name}: ${r.name} ${r.status} → revision ${r.revision} (${r.image})`)
      }
    } catch (err) {
      if (err instanceof OsctlError && results.length) {
        throw new OsctlError(err.code, `${err.message} (already upgraded: ${results.map((r) => r.host).join(', ')})`, {exitCode: err.exitCode, hint: err.hint, details: err.details})
      }
      throw err
    } finally {
      await close()
    }
    return {results}
  }
}
