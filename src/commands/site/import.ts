import {Flags} from '@oclif/core'

import {Envelope} from '../../cli/envelope.js'
import {OsctlCommand, describe} from '../../base-command.js'
import {ImportResult, importKolla} from '../../kolla/import-site.js'

export default class SiteImport extends OsctlCommand {
  static summary = "Create an osctl site dir from a kolla-ansible config (globals.yml, passwords.yml, multinode inventory)."
  static description = describe(
    'Maps what osctl has a counterpart for (release, interfaces, registry, namespace, tag, enable_* flags, control/compute groups with ' +
      'their children, ansible_host/user/port/private key, the passwords osctl uses) and lists every setting it could not map, with file:line ' +
      'and why. Secrets osctl needs that kolla has not are generated (like `osctl genpwd`). The site is checked by the site loader before it ' +
      'appears in --site, which must not exist yet (or be empty). No host is contacted.',
  )
  static examples = ['<%= config.bin %> site import --from-kolla /etc/kolla --inventory ~/multinode --site ./site', '<%= config.bin %> site import --from-kolla ./kolla --site ./site --json']
  static flags = {
    'from-kolla': Flags.directory({summary: 'kolla-ansible config dir holding globals.yml and passwords.yml (usually /etc/kolla).', required: true}),
    inventory: Flags.file({summary: 'kolla-ansible INI inventory (default: DIR/multinode).'}),
    site: Flags.string({summary: 'The new osctl site directory.', required: true}),
  }

  async run(): Promise<Envelope<ImportResult>> {
    const {flags} = await this.parse(SiteImport)
    const result = await importKolla({from: flags['from-kolla'], out: flags.site, inventory: flags.inventory})
    if (!this.jsonEnabled()) {
      this.log(`wrote ${result.files.join(', ')}`)
      this.log(`mapped ${result.mapped.length} settings; generated ${result.generated.length} secrets kolla did not have${result.generated.length ? ` (${result.generated.join(', ')})` : ''}`)
      if (result.unmapped.length > 0) this.log(`not mapped (${result.unmapped.length}):`)
      for (const u of result.unmapped) this.log(`  ${u.location}  ${u.key}: ${u.reason}`)
      for (const w of result.beforeHosts) this.log(`before bootstrap: ${w.message}${w.location ? ` (${w.location})` : ''}`)
    }
    return this.done(result)
  }
}
