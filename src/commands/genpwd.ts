import {resolve} from 'node:path'

import {Envelope} from '../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {OsctlErrors} from '../errors.js'
import {generatePasswords} from '../site/genpwd.js'
import {checkSite} from '../site/load-site.js'

export interface GenpwdResult {
  passwordsFile: string
  /** Secrets that were missing and now have a random value. */
  added: string[]
  /** Secrets that already had a value and were left alone. */
  kept: string[]
}

export default class Genpwd extends OsctlCommand {
  static summary = 'Generate a strong random value for every secret missing from passwords.yml.'
  static description = describe(
    'Creates passwords.yml in the site directory if needed and fills every secret the enabled services need. ' +
      'Existing values are never changed, other keys and comments are kept, and the file is written atomically with mode 0600. ' +
      'The rest of the site (osctl.yml, inventory.yml) is validated first when present, so a broken site is reported before anything is written.',
  )
  static examples = ['<%= config.bin %> genpwd --site ./site', '<%= config.bin %> genpwd --json']
  static flags = {site: siteFlags.site}

  async run(): Promise<Envelope<GenpwdResult>> {
    const {flags} = await this.parse(Genpwd)
    const {site, errors} = await checkSite(resolve(flags.site), {passwords: 'ignore'})
    // Secrets may be generated before osctl.yml/inventory.yml are written (only the dir must exist),
    // but whatever is there must be valid: genpwd on a broken site should say so.
    const blocking = errors.filter((e) => !(e.code === 'CONFIG_MISSING' && hasMissingFile(e.details)))
    if (blocking.length > 0) throw new OsctlErrors(blocking)

    const passwordsFile = site?.files.passwords ?? resolve(flags.site, 'passwords.yml')
    const {added, kept} = await generatePasswords(passwordsFile)
    if (!this.jsonEnabled()) {
      this.reporter().emit('site.passwords', {file: passwordsFile, added: added.length, kept: kept.length})
    }
    return this.done({passwordsFile, added, kept})
  }
}

function hasMissingFile(details: unknown): boolean {
  return typeof details === 'object' && details !== null && 'missingFile' in details
}
