import {Flags} from '@oclif/core'

import {Envelope, outcome} from '../cli/envelope.js'
import {tagFlag} from '../cli/flags.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {deployContext} from '../session/deploy-context.js'
import {CloudUpgradeResult, upgradeCloud} from '../lifecycle/cloud-upgrade.js'

export default class Upgrade extends OsctlCommand {
  static changesHosts = true
  static summary = 'Upgrade the whole cloud to another image tag, service by service in dependency order, health-gated.'
  static description = describe(
    "Kolla's order: infrastructure (mariadb, memcached, rabbitmq), keystone, glance, placement, nova (nova-api before the " +
      'conductor and scheduler), then the computes; each service as `osctl service upgrade` does it (pulled on every host first, ' +
      'databases snapshotted, --serial hosts at a time, health-gated). Before any host changes, every image of the tag must be in the ' +
      'site registry and the step between releases allowed: the release the hosts run → the release the images carry ' +
      '(io.osctl.openstack-release) may only go to the next release, or skip one between SLURP releases (2023.1 → 2024.1); a downgrade ' +
      'or a wider jump is refused (exit 2), as is a tag whose release differs from openstack_release in osctl.yml. The first service that ' +
      'fails is rolled back and the run stops (exit 4); the services before it stay upgraded and are listed. Run the same command again ' +
      'after a fix: services already on the tag are skipped. System containers (etcd, registry) are upgraded with `osctl system upgrade`.',
  )
  static examples = ['<%= config.bin %> upgrade --tag 2023.1-1', '<%= config.bin %> upgrade --tag 2 --serial 2 --json']
  static flags = {
    ...siteFlags,
    tag: tagFlag({summary: 'Image tag in the site registry.', required: true}),
    serial: Flags.integer({summary: 'Hosts changed at once within each service.', default: 1, min: 1}),
  }

  async run(): Promise<Envelope<CloudUpgradeResult>> {
    const {flags} = await this.parse(Upgrade)
    const ctx = await this.exclusive(await deployContext(flags))
    const result = await upgradeCloud(ctx, {tag: flags.tag, serial: flags.serial, reporter: this.reporter()})
    if (!this.jsonEnabled()) {
      this.log(`release: ${result.from.join(', ') || '(none running)'} → ${result.to} (${result.step})`)
      for (const s of result.services) this.log(`${s.service.padEnd(16)} ${s.status}${s.revisions?.length ? ` (revision ${[...new Set(s.revisions)].join(', ')})` : ''}`)
    }
    const hosts = [...new Set(result.services.flatMap((s) => s.hosts))]
    return this.done(result, hosts.map((h) => outcome(h, {ok: true, changed: result.services.some((s) => s.status === 'upgraded' && s.hosts.includes(h))})))
  }
}
