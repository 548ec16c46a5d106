import type {ContainerSpec} from '../catalog/container-spec.js'
import type {RenderedService, RenderedStep} from '../catalog/render.js'
import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError} from '../errors.js'
import type {Reporter} from '../events/reporters.js'
import type {Host} from '../hosts/host.js'
import {Ledger} from '../revisions/ledger.js'
import {runBootstrapStep, stepKey} from './bootstrap-steps.js'
import type {StepTiming} from './critical-path.js'

/** What a deploy changed, as post_deploy steps see it (decide whether they rerun). */
export interface PostStepTrigger {
  /** Anything changed in the deploy (any service, any host). */
  changed: boolean
  /** Containers created, recreated or started in the deploy, on any host. */
  containers: ReadonlySet<string>
}

/** The trigger of a deploy's results: what it changed. */
export function postStepTrigger(results: ReadonlyArray<{status: string; containers: ReadonlyArray<{name: string; status: string}>}>): PostStepTrigger {
  return {
    changed: results.some((r) => r.status === 'changed'),
    containers: new Set(results.flatMap((r) => r.containers.filter((c) => c.status !== 'unchanged').map((c) => c.name))),
  }
}

/**
 * Whether a post_deploy step must run whatever its ledger key says: with `after`, when one of
 * those containers was created, recreated or started; without, when the deploy changed anything.
 */
export function postStepForced(step: Pick<RenderedStep, 'after'>, trigger: PostStepTrigger): boolean {
  return step.after ? step.after.some((c) => trigger.containers.has(c)) : trigger.changed
}

/**
 * The ledger key of a post_deploy step's last success. With `after` its container's image does not
 * count (its command, environment and the container's config do): a new nova-api image alone
 * does not rerun discover_hosts. Without, the whole spec counts, image included.
 */
export function postStepKey(step: RenderedStep, spec: ContainerSpec): string {
  return stepKey(step.after ? {...step, imagePaths: []} : step, spec)
}

/**
 * post_deploy steps, after the whole deploy converged. They run again when the deploy changed
 * what triggers them (postStepForced: e.g. a new compute host for discover_hosts) or their last
 * run did not succeed with this config (postStepKey). Returns the steps that ran, with their run times.
 */
export async function runPostSteps(host: Host, docker: ContainerClient, reporter: Reporter, rs: RenderedService, trigger: PostStepTrigger): Promise<StepTiming[]> {
  const ledger = new Ledger(host)
  const [record, keys] = await Promise.all([ledger.current(rs.service), ledger.bootstrapKeys(rs.service)])
  const ran: StepTiming[] = []
  for (const step of rs.postSteps ?? []) {
    const spec = record?.containers.find((c) => c.name === step.container)?.spec
    if (!spec) throw new OsctlError('COMMAND_FAILED', `${host.name}: post_deploy step ${step.name} of ${rs.service}: container ${step.container} has no ledger record`, {hint: `deploy ${rs.service} first`})
    const key = postStepKey(step, spec)
    if (!postStepForced(step, trigger) && keys[step.name] === key) continue
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
