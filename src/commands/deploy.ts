import {Flags} from '@oclif/core'
import {checkSiteTls} from '../certificates/api-tls.js'

import {listFlag} from '../cli/flags.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {Envelope, exitCodeOf, outcome} from '../cli/envelope.js'
import {deployContext} from '../session/deploy-context.js'
import {criticalPathLine} from '../apply/critical-path.js'
import {DeployResult, deploy} from '../apply/deploy.js'
import {DryRunResult, dryRun, dryRunLines} from '../apply/dry-run.js'
import {ExitCode} from '../errors.js'
import {checkImages, planDeploy} from '../catalog/plan.js'
import {trace} from '../cli/trace.js'

export default class Deploy extends OsctlCommand {
  static changesHosts = true
  static summary = 'Deploy OpenStack services (mariadb, memcached, rabbitmq, keystone …) as Docker containers on the hosts.'
  static description = describe(
    'Everything is validated first (service names, enabled_services and dependencies, passwords, every template for every host, ' +
      'images in the site registry); nothing is touched on any host when anything is wrong. Then each service starts once its dependencies are done ' +
      'on all their hosts (up to 3 services at once; images a host lacks are pulled from the start through one queue for all hosts, image_pull_concurrency at once, earliest services first), hosts in parallel: configs rendered to /etc/osctl/<container>/, image pulled, databases created, bootstrap steps run, containers ' +
      '(re)created only when their spec hash changed (a service\'s new containers side by side, running ones replaced one at a time), each under a systemd unit, and gated on its health check. ' +
      'A second run with nothing changed recreates and restarts nothing. Images must be built and pushed first (`osctl image build --push`). ' +
      'With --dry-run it reads every host the same way and reports, per host and service, what it would do and why (container spec fields, ' +
      'config files as unified diffs with passwords masked, the image), and changes nothing: exit 0 when nothing would change, 6 when something would.',
  )
  static examples = ['<%= config.bin %> deploy --site ./site', '<%= config.bin %> deploy --services mariadb,keystone --limit control --json', '<%= config.bin %> deploy --dry-run']
  static flags = {
    ...siteFlags,
    services: listFlag({summary: 'Only these services (comma-separated); their dependencies must be enabled and already deployed.'}),
    'dry-run': Flags.boolean({summary: 'Show what would change on each host and why (diffs), change nothing; exit 6 when something would change.'}),
  }

  async run(): Promise<Envelope<Omit<DeployResult, 'hosts'>> | Envelope<Omit<DryRunResult, 'hosts'>>> {
    trace('run')
    const {flags} = await this.parse(Deploy)
    const loaded = await deployContext(flags)
    // Certificates osctl.yml's tls needs: checked here, before the site lock (etcd on the hosts).
    checkSiteTls(loaded.site)
    trace('site read')
    const ctx = await this.exclusive(loaded)
    trace('site lock held')
    const services = flags.services?.split(',').map((s) => s.trim()).filter(Boolean)
    const plan = planDeploy(ctx.site, ctx.catalog, ctx.overrides, {services, targets: ctx.targets})
    trace('planned')
    plan.registryDigests = await checkImages(ctx.site, plan)
    trace('images checked')
    if (flags['dry-run']) return this.dryRun(await dryRun(ctx.site, plan, ctx.targets, ctx.session))
    const result = await deploy(ctx.site, plan, ctx.targets, ctx.session, this.reporter())
    trace('deployed')
    const hosts = result.hosts.map((h) => outcome(h.host, {ok: h.ok, error: h.error, changed: result.services.some((s) => s.host === h.host && s.status === 'changed')}))
    if (!this.jsonEnabled()) {
      for (const r of result.services) {
        const containers = r.containers.map((c) => `${c.name} ${c.status}${c.changed.length ? ` (${c.changed.join(', ')})` : ''}`).join(', ')
        this.log(`${r.host.padEnd(16)} ${r.service.padEnd(12)} r${r.revision} ${containers}${r.bootstrap.length ? `; bootstrap: ${r.bootstrap.join(', ')}` : ''}`)
      }
      for (const h of result.hosts.filter((x) => !x.ok)) this.log(`${h.host.padEnd(16)} FAILED ${h.error?.message ?? ''}`)
      const failed = hosts.filter((h) => !h.ok).length
      if (failed > 0) this.log(`deploy: FAILED on ${failed} of ${hosts.length} host(s)${result.recreated ? `; ${result.recreated} container(s) created, recreated or started elsewhere` : ''}`)
      else this.log(result.recreated === 0 && !result.changed ? 'deploy: unchanged (no container recreated or restarted)' : `deploy: ${result.recreated} container(s) created, recreated or started`)
      // The services' own work along their dependencies, beside this process's whole run.
      const floor = criticalPathLine(result.criticalPathMs, process.uptime() * 1000)
      if (floor) this.log(`deploy: ${floor}`)
    }
    const {hosts: _summaries, ...data} = result
    return this.done(data, hosts)
  }

  private dryRun(result: DryRunResult): Envelope<Omit<DryRunResult, 'hosts'>> {
    const hosts = result.hosts.map((h) => outcome(h.host, {ok: h.ok, error: h.error, changed: false, wouldChange: h.wouldChange}))
    const failed = hosts.some((h) => !h.ok)
    const exitCode = failed ? exitCodeOf(hosts) : result.changes ? ExitCode.CHANGES_PENDING : ExitCode.OK
    if (!this.jsonEnabled()) {
      for (const line of dryRunLines(result)) this.log(line)
      const n = result.actions.length
      this.log(failed ? 'deploy --dry-run: some hosts could not be read (see above); nothing was changed' : n ? `deploy --dry-run: ${n} service(s) would change (exit 6); nothing was changed` : 'deploy --dry-run: nothing would change')
    }
    const {hosts: _summaries, ...data} = result
    return this.done(data, hosts, exitCode)
  }
}
