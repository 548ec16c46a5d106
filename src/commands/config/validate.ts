import {Envelope} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {listFlag} from '../../cli/flags.js'
import {planDeploy} from '../../catalog/plan.js'
import {siteInputs} from '../../session/deploy-context.js'

export default class ConfigValidate extends OsctlCommand {
  static summary = 'Check the site dir alone: the validation deploy runs before it touches any host (kolla-ansible validate-config).'
  static description = describe(
    'osctl.yml, inventory.yml, passwords.yml (and its mode), overrides/, enabled services and their dependencies, and every ' +
      'template rendered for every host. No host and no registry is contacted. Exit 0 when deploy would accept the site, ' +
      'else 2 with every problem at file:line.',
  )
  static examples = ['<%= config.bin %> config validate --site ./site', '<%= config.bin %> config validate --json']
  static flags = {
    ...siteFlags,
    services: listFlag({summary: 'Only these services (comma-separated), as `deploy --services` would check them.'}),
  }

  async run(): Promise<Envelope<{site: string; services: string[]; rendered: number; skipped: Array<{service: string; reason: string}>}>> {
    const {flags} = await this.parse(ConfigValidate)
    const inputs = await siteInputs(flags)
    const services = flags.services?.split(',').map((s) => s.trim()).filter(Boolean)
    const plan = planDeploy(inputs.site, inputs.catalog, inputs.overrides, {services, targets: inputs.targets})
    const rendered = plan.services.reduce((n, s) => n + [...s.rendered.values()].reduce((m, r) => m + r.containers.reduce((k, c) => k + Object.keys(c.files).length, 0), 0), 0)
    if (!this.jsonEnabled()) this.log(`config validate: ${inputs.site.dir} is valid (${plan.services.length} service(s), ${inputs.targets.length} host(s), ${rendered} file(s) rendered)`)
    return this.done({site: inputs.site.dir, services: plan.services.map((s) => s.def.name), rendered, skipped: plan.skipped})
  }
}
