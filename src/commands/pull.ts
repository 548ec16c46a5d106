import {Envelope, fromFanOut} from '../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {listFlag} from '../cli/flags.js'
import {checkImages, planDeploy} from '../catalog/plan.js'
import {PulledImage, pullImages} from '../ops/pull-images.js'
import {deployContext} from '../session/deploy-context.js'

export default class Pull extends OsctlCommand {
  static changesHosts = true
  static summary = 'Pull every image a deploy would need, on every host that would run it, before a maintenance window (kolla-ansible pull).'
  static description = describe(
    'Validates the site like deploy, checks the images are in the site registry, then pulls each image on the hosts whose containers ' +
      'would run it (under the host’s pull lock, so `image prune` cannot race it). Nothing else changes: no container, config or unit. ' +
      'Idempotent: a second run pulls nothing new and reports every image present.',
  )
  static examples = ['<%= config.bin %> pull --site ./site', '<%= config.bin %> pull --services keystone,glance --limit control --json']
  static flags = {
    ...siteFlags,
    services: listFlag({summary: 'Only the images of these services (comma-separated).'}),
  }

  async run(): Promise<Envelope<{pulled: number}, {images: PulledImage[]}>> {
    const {flags} = await this.parse(Pull)
    const ctx = await this.exclusive(await deployContext(flags))
    const services = flags.services?.split(',').map((s) => s.trim()).filter(Boolean)
    const plan = planDeploy(ctx.site, ctx.catalog, ctx.overrides, {services, targets: ctx.targets})
    await checkImages(ctx.site, plan)
    const results = await pullImages(ctx.site, plan, ctx.targets, ctx.session, this.reporter())
    const hosts = fromFanOut(results, (images = []) => ({images, changed: images.some((i) => i.status !== 'present')}))
    if (!this.jsonEnabled()) {
      for (const h of hosts) {
        if (!h.ok) this.log(`${h.host.padEnd(16)} FAILED ${h.error?.message ?? ''}`)
        for (const i of h.images) this.log(`${h.host.padEnd(16)} ${i.status.padEnd(8)} ${i.ref}`)
      }
    }
    const pulled = hosts.flatMap((h) => h.images).filter((i) => i.status !== 'present').length
    if (!this.jsonEnabled()) this.log(`pull: ${pulled} image(s) pulled or updated on ${hosts.filter((h) => h.changed).length} of ${hosts.length} host(s)`)
    return this.done({pulled}, hosts)
  }
}
