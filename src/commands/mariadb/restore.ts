import {Args} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {Envelope, outcome} from '../../cli/envelope.js'
import {throwIfInterrupted} from '../../cli/interrupt.js'
import {OsctlError} from '../../errors.js'
import {SiteBackup, backupTo, databaseHost, defaultBackupDir, mariadbHealth, readDumpFile, restoreDump, waitDatabaseServices} from '../../ops/mariadb-backup.js'
import {deployContext} from '../../session/deploy-context.js'

export default class MariadbRestore extends OsctlCommand {
  static changesHosts = true
  static summary = 'Put every database back as it was in a backup (or an upgrade snapshot), health-gated.'
  static description = describe(
    'FILE is checked first (a complete mariadb dump; else exit 2, nothing touched). mariadb must be healthy before anything is changed. ' +
      'The current state is backed up next to the site’s backups first (…-before-restore.sql), then the dump is loaded: each database ' +
      'in it is dropped and recreated, so what was written since is gone. Then mariadb and every service with databases must answer their ' +
      'health checks (exit 1 otherwise, with the before-restore file to go back).',
  )
  static examples = ['<%= config.bin %> mariadb restore ./site/backups/mariadb-20260101T120000Z.sql']
  static args = {file: Args.string({description: 'Backup file (`osctl mariadb backup`) or an upgrade snapshot (before-N.sql).', required: true})}
  static flags = {site: siteFlags.site}

  async run(): Promise<Envelope<{file: string; before: SiteBackup; services: string[]}>> {
    const {args, flags} = await this.parse(MariadbRestore)
    const ctx = await this.exclusive(await deployContext({site: flags.site}))
    const dump = await readDumpFile(args.file)
    const db = databaseHost(ctx)
    const pre = await mariadbHealth(ctx, db)
    if (!pre.healthy) throw new OsctlError('COMMAND_FAILED', `${db.name}: mariadb is not healthy (${pre.detail}); nothing was restored`, {hint: '`osctl service start mariadb` / `osctl service status mariadb`'})
    const before = await backupTo(ctx.session.host(db), defaultBackupDir(ctx.site.dir), '-before-restore')
    this.notice(`the state before the restore is in ${before.path}`)
    throwIfInterrupted(`restoring ${args.file}`)
    await restoreDump(ctx.session.host(db), dump)
    const gate = await waitDatabaseServices(ctx)
    if (!gate.healthy) {
      throw new OsctlError('COMMAND_FAILED', `restored ${args.file}, but not every service is healthy: ${gate.detail.join('; ')}`, {
        hint: `\`osctl mariadb restore ${before.path}\` puts the previous state back`,
        details: {hosts: [outcome(db.name, {ok: false, changed: true, error: new OsctlError('COMMAND_FAILED', gate.detail.join('; '))})]},
      })
    }
    if (!this.jsonEnabled()) this.log(`${db.name}: restored ${args.file}; healthy: ${gate.detail.join(', ')}`)
    return this.done({file: args.file, before, services: gate.detail}, [outcome(db.name, {ok: true, changed: true})])
  }
}
