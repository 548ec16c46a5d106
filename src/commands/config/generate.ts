import {Flags} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {listFlag} from '../../cli/flags.js'
import {GeneratedConfig, GeneratedHost, generateConfig} from '../../catalog/generate-config.js'
import {planDeploy} from '../../catalog/plan.js'
import {siteInputs} from '../../session/deploy-context.js'

export default class ConfigGenerate extends OsctlCommand {
  static summary = "Render every host's service configs into a local directory, without touching any host (kolla-ansible genconfig)."
  static description = describe(
    'Runs the same validation as deploy, then writes OUT/<host>/<container>/<file>: exactly what deploy would install under ' +
      '/etc/osctl/<container>/ on that host (configs with overrides merged, osctl_start manifests). No host is contacted (no SSH). ' +
      'Files are 0600 (they hold passwords). OUT must be new, empty, or an earlier output of this command (its host trees are replaced).',
  )
  static examples = ['<%= config.bin %> config generate --out ./rendered', '<%= config.bin %> config generate --out ./rendered --limit lab-1 --services keystone']
  static flags = {
    ...siteFlags,
    out: Flags.string({summary: 'Directory to write OUT/<host>/<container>/ into.', required: true}),
    services: listFlag({summary: 'Only these services (comma-separated).'}),
  }

  async run(): Promise<Envelope<Omit<GeneratedConfig, 'hosts'>, Pick<GeneratedHost, 'containers'>>> {
    const {flags} = await this.parse(ConfigGenerate)
    const inputs = await siteInputs(flags)
    const services = flags.services?.split(',').map((s) => s.trim()).filter(Boolean)
    const plan = planDeploy(inputs.site, inputs.catalog, inputs.overrides, {services, targets: inputs.targets})
    const result = await generateConfig(plan, flags.out)
    if (!this.jsonEnabled()) {
      for (const h of result.hosts) this.log(`${h.host.padEnd(16)} ${h.containers.map((c) => c.container).join(', ')}`)
      this.log(`config generate: ${result.files} file(s) under ${result.out}`)
    }
    const {hosts, ...data} = result
    return this.done(data, hosts.map((h) => outcome(h.host, {ok: true, changed: false, containers: h.containers})))
  }
}
