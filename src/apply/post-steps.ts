import type {RenderedService} from '../catalog/render.js'
import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError} from '../errors.js'
import type {Reporter} from '../events/reporters.js'
import type {Host} from '../hosts/host.js'
import {Ledger} from '../revisions/ledger.js'
import {runBootstrapStep, stepKey} from './bootstrap-steps.js'
import type {StepTiming} from './critical-path.js'

/**
 * post_deploy steps, after the whole deploy converged. They run again when the deploy changed
 * anything (`force`: e.g. a new compute host for discover_hosts) or their last run did not
 * succeed with this image and config. Returns the steps that ran, with their run times.
 */
export async function runPostSteps(host: Host, docker: ContainerClient, reporter: Reporter, rs: RenderedService, force: boolean): Promise<StepTiming[]> {
  const ledger = new Ledger(host)
  const record = await ledger.current(rs.service)
  const keys = await ledger.bootstrapKeys(rs.service)
  const ran: StepTiming[] = []
  for (const step of rs.postSteps ?? []) {
    const spec = record?.containers.find((c) => c.name === step.container)?.spec
    if (!spec) throw new OsctlError('COMMAND_FAILED', `${host.name}: post_deploy step ${step.name} of ${rs.service}: container ${step.container} has no ledger record`, {hint: `deploy ${rs.service} first`})
    const key = stepKey(step, spec)
    if (!force && keys[step.name] === key) continue
    // Forget the last success first: a failed run must be retried even if nothing else changes.
    if (keys[step.name]) await ledger.setBootstrapKey(rs.service, step.name, '')
    reporter.emit('service.step.start', {service: rs.service, step: step.name, phase: 'post_deploy'}, host.name)
    const started = Date.now()
    const ms = await runBootstrapStep(docker, spec, step, host.name)
    await ledger.setBootstrapKey(rs.service, step.name, key)
    reporter.emit('service.step.done', {service: rs.service, step: step.name, phase: 'post_deploy', seconds: (Date.now() - started) / 1000}, host.name)
    ran.push({host: host.name, service: rs.service, step: step.name, phase: 'post_deploy', ms: Math.round(ms)})
  }
  return ran
}
