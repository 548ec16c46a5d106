import {Args, Flags} from '@oclif/core'

import {Envelope} from '../../cli/envelope.js'
import {listFlag} from '../../cli/flags.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {addHostEdit, writeInventory} from '../../membership/inventory-edit.js'
import {loadSite} from '../../site/load-site.js'

export default class HostAdd extends OsctlCommand {
  static summary = 'Add a host to inventory.yml (comments and layout kept); then `bootstrap --limit NAME` and `deploy --limit NAME`.'
  static description = describe(
    'Checked like the site loader checks inventory.yml (a name or address already used, an unknown group with its nearest name, a second deploy host, ' +
      'a missing SSH key), before anything is written; the file is replaced atomically. No host is contacted. ' +
      'A host already there with the same address, in each of the groups (and the SSH settings given) is accepted unchanged (`added: false`).',
  )
  static examples = ['<%= config.bin %> host add compute-3 --address 10.0.0.23 --group compute', '<%= config.bin %> host add ctl-4 --address ctl-4.example.org --group control --ssh-user admin --ssh-key id_ed25519']
  static args = {name: Args.string({description: 'Inventory name of the new host.', required: true})}
  static flags = {
    site: siteFlags.site,
    address: Flags.string({summary: 'IP address or DNS name osctl reaches the host on over SSH.', required: true}),
    group: listFlag({summary: 'Groups the host joins (comma-separated): compute, control, …', required: true}),
    'ssh-user': Flags.string({summary: 'User osctl logs in as (default: inventory defaults, else root).'}),
    'ssh-port': Flags.integer({summary: 'SSH port (default: inventory defaults, else 22).', min: 1, max: 65535}),
    'ssh-key': Flags.string({summary: 'Private key file, relative to the site dir or absolute.'}),
  }

  async run(): Promise<Envelope<{inventory: string; host: string; groups: string[]; added: boolean}>> {
    const {args, flags} = await this.parse(HostAdd)
    const site = await loadSite(flags.site)
    const groups = flags.group.split(',').map((g) => g.trim()).filter(Boolean)
    const edit = await addHostEdit(site, {name: args.name, address: flags.address, groups, sshUser: flags['ssh-user'], sshPort: flags['ssh-port'], sshKey: flags['ssh-key']})
    const added = edit.changed !== false
    if (added) await writeInventory(edit)
    if (!this.jsonEnabled()) {
      this.log(added ? `${args.name} added to ${edit.file} (${groups.join(', ')})` : `${args.name} is already in ${edit.file} (${groups.join(', ')}): unchanged`)
      this.log(`next: osctl bootstrap --limit ${args.name} && osctl deploy --limit ${args.name}${groups.includes('control') ? ' (then `osctl deploy` everywhere: configs list the control hosts)' : ''}`)
    }
    return this.done({inventory: edit.file, host: args.name, groups, added})
  }
}
