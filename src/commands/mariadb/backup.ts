import {Flags} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {Envelope, outcome} from '../../cli/envelope.js'
import {SiteBackup, backupTo, databaseHost, defaultBackupDir} from '../../ops/mariadb-backup.js'
import {deployContext} from '../../session/deploy-context.js'

export default class MariadbBackup extends OsctlCommand {
  static summary = 'Full, consistent backup of every database into a dated file on this machine.'
  static description = describe(
    'mariadb-dump --single-transaction of every database but the server’s own (accounts and grants are deploy’s, from passwords.yml), ' +
      'with DROP DATABASE before each, like the snapshots `service upgrade` takes. The dump streams over the host’s SSH session into ' +
      '<site>/backups/mariadb-<UTC time>.sql (or --to DIR), created 0600, complete or not at all. `osctl mariadb restore FILE` loads it.',
  )
  static examples = ['<%= config.bin %> mariadb backup', '<%= config.bin %> mariadb backup --to /srv/backups --json']
  static flags = {
    site: siteFlags.site,
    to: Flags.string({summary: 'Directory for the backup file (default: the site dir’s backups/).'}),
  }

  async run(): Promise<Envelope<{backup: SiteBackup}>> {
    const {flags} = await this.parse(MariadbBackup)
    const ctx = this.closing(await deployContext({site: flags.site}))
    const db = databaseHost(ctx)
    const backup = await backupTo(ctx.session.host(db), flags.to ?? defaultBackupDir(ctx.site.dir))
    if (!this.jsonEnabled()) this.log(`${backup.path} (${backup.bytes} bytes; ${backup.databases.join(', ')} from ${backup.host})`)
    return this.done({backup}, [outcome(db.name, {ok: true, changed: false})])
  }
}
