import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {Envelope} from '../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {clientConfig} from '../ops/client-config.js'
import type {InitItem} from '../ops/init-network.js'
import {loadSite} from '../site/load-site.js'
import {writeFileAtomicLocal} from '../site/write-atomic.js'

export default class PostDeploy extends OsctlCommand {
  static summary = 'Write admin-openrc.sh and clouds.yaml (cloud `osctl`) into the site dir; --init-network also creates the first networks, a flavor and the test image.'
  static description = describe(
    'Uses the keystone admin password from passwords.yml and the first control host. Both files are mode 0600. ' +
      'Then: `OS_CLIENT_CONFIG_FILE=SITE/clouds.yaml openstack --os-cloud osctl token issue`, or `. SITE/admin-openrc.sh`. ' +
      "--init-network is kolla's init-runonce, safe to run again (what exists is kept): external flat network `public` on physnet1 with " +
      'subnet `public-subnet` from osctl.yml external_network_cidr/_gateway/_range, vxlan network `private` (10.0.0.0/24), router ' +
      '`private-router` between them, ICMP and SSH allowed in the admin project\'s default security group, flavor `m1.tiny` ' +
      '(256 MB, 1 vCPU, 1 GB) and the test guest (`osctl image guest`) as image `osctl-guest`. It talks to the APIs from this machine.',
  )
  static examples = ['<%= config.bin %> post-deploy --site ./site', '<%= config.bin %> post-deploy --site ./site --init-network --json']
  static flags = {
    site: siteFlags.site,
    'init-network': Flags.boolean({summary: 'Also create the networks, router, security group rules, flavor and image a first server needs.'}),
  }

  async run(): Promise<Envelope<{files: string[]; authUrl: string; cloud: string; created?: InitItem[]}>> {
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
    if (!flags['init-network']) return this.done({files, authUrl: cfg.authUrl, cloud: 'osctl'})
    const {externalNetwork, initNetwork} = await import('../ops/init-network.js')
    externalNetwork(site) // a missing osctl.yml key is a usage error before anything is asked
    const {openStackApi} = await import('../ops/openstack-api.js')
    const {buildGuestImage} = await import('../images/guest/guest-image.js')
    const api = await openStackApi({authUrl: cfg.authUrl, username: 'admin', password: site.passwords.keystone_admin_password, project: 'admin', region: 'RegionOne', ...(cfg.cacert ? {cacert: cfg.cacert} : {})})
    const created = await initNetwork(api, site, () => buildGuestImage({reporter: this.reporter()}))
    if (!this.jsonEnabled()) for (const i of created) this.log(`${i.changed ? 'created' : 'present'} ${i.kind} ${i.name} (${i.id})`)
    return this.done({files, authUrl: cfg.authUrl, cloud: 'osctl', created})
  }
}
