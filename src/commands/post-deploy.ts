import {join} from 'node:path'

import {Envelope} from '../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {clientConfig} from '../ops/client-config.js'
import {loadSite} from '../site/load-site.js'
import {writeFileAtomicLocal} from '../site/write-atomic.js'

export default class PostDeploy extends OsctlCommand {
  static summary = 'Write admin-openrc.sh and clouds.yaml (cloud `osctl`) into the site dir for the OpenStack client.'
  static description = describe(
    'Uses the keystone admin password from passwords.yml and the first control host. Both files are mode 0600. ' +
      'Then: `OS_CLIENT_CONFIG_FILE=SITE/clouds.yaml openstack --os-cloud osctl token issue`, or `. SITE/admin-openrc.sh`.',
  )
  static examples = ['<%= config.bin %> post-deploy --site ./site']
  static flags = {site: siteFlags.site}

  async run(): Promise<Envelope<{files: string[]; authUrl: string; cloud: string}>> {
    const {flags} = await this.parse(PostDeploy)
    const site = await loadSite(flags.site)
    const cfg = clientConfig(site)
    const files: string[] = []
    for (const [name, text] of [['admin-openrc.sh', cfg.openrc], ['clouds.yaml', cfg.cloudsYaml]] as const) {
      const path = join(site.dir, name)
      await writeFileAtomicLocal(path, text, 0o600)
      files.push(path)
    }
    if (!this.jsonEnabled()) {
      for (const f of files) this.log(`wrote ${f}`)
      this.log(`try: OS_CLIENT_CONFIG_FILE=${files[1]} openstack --os-cloud osctl token issue`)
    }
    return this.done({files, authUrl: cfg.authUrl, cloud: 'osctl'})
  }
}
