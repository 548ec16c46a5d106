import {posix} from 'node:path'

import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError} from '../errors.js'
import {Host, fileMissing, tailLines} from '../hosts/host.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {Balancer, noBalancer} from '../apply/balancer.js'
import {waitContainerHealthy} from '../apply/container-health.js'
import {inOrderBeside} from '../apply/in-order-beside.js'
import {LABELS, configDir} from '../catalog/container-spec.js'
import {dropPrevious, nextName, replaceContainer} from '../apply/container-swap.js'
import {Journal, newOperationId} from '../revisions/journal.js'
import {Ledger, RevisionContainer, RevisionRecord, revisionDir} from '../revisions/ledger.js'
import {serviceUnitName, serviceUnitPath} from '../apply/service-unit.js'

export interface RestoreResult {
  service: string
  host: string
  from: number
  to: number
  /** Containers recreated from the target revision's spec; the others already matched it. */
  recreated: string[]
}

/** A rollback's two ends on one host: the revision in force and the one to return to. */
export interface RestorePlan {
  current: RevisionRecord
  target: RevisionRecord
}

/**
 * Puts a service on one host back to a revision kept in its ledger: the exact image (by id, not
 * by tag, so a re-pushed tag cannot sneak in), the container spec, the rendered config files and
 * the unit text recorded for that revision. Databases are not touched (see the notes on upgrade).
 */
export class RevisionRestorer {
  private readonly ledger: Ledger

  constructor(
    private readonly host: Host,
    private readonly docker: ContainerClient,
    private readonly reporter: Reporter = silentReporter,
    /** The osctl invocation (journal.ts newOperationId); one per restorer when not given. */
    private readonly operation = newOperationId('rollback'),
    /** haproxy drains this host's backend around a swap (internal_vip); see balancer.ts. */
    private readonly balancer: Balancer = noBalancer,
  ) {
    this.ledger = new Ledger(host)
  }

  /** The revision a rollback goes to: --to, else the one the current revision replaced. */
  async target(service: string, to?: number): Promise<RestorePlan> {
    const current = await this.ledger.current(service)
    if (!current) throw new OsctlError('USAGE', `${this.host.name}: ${service} has no revisions (never deployed here)`, {hint: '`osctl service list` shows what runs where.'})
    const n = to ?? current.previous
    if (n === undefined) throw new OsctlError('USAGE', `${this.host.name}: ${service} revision ${current.revision} is the first; there is nothing to roll back to`, {hint: `\`osctl service history ${service}\` lists the revisions.`})
    if (n === current.revision) throw new OsctlError('USAGE', `${this.host.name}: ${service} already runs revision ${n}`, {location: '--to'})
    const target = await this.ledger.read(service, n)
    if (!target) throw new OsctlError('USAGE', `${this.host.name}: ${service} has no revision ${n}`, {location: '--to', hint: `\`osctl service history ${service}\` lists the revisions kept.`})
    if (target.outcome !== 'active' && target.outcome !== 'rolled-back') {
      throw new OsctlError('USAGE', `${this.host.name}: ${service} revision ${n} never became healthy (${target.outcome}); refusing to return to it`, {location: '--to'})
    }
    for (const c of target.containers) {
      if (!(await this.docker.inspectImage(c.imageId))) {
        throw new OsctlError('USAGE', `${this.host.name}: the image of ${c.name} in revision ${n} (${c.image}, ${c.imageId.slice(0, 19)}) is no longer on the host`, {
          hint: 'It was pruned; rebuild/push that tag and deploy it, or roll back to a newer revision.',
        })
      }
    }
    return {current, target}
  }

  async restore(service: string, to?: number): Promise<RestoreResult> {
    return this.restoreTo(service, await this.target(service, to))
  }

  /** To a plan target() made (and the caller checked). */
  async restoreTo(service: string, plan: RestorePlan): Promise<RestoreResult> {
    return this.apply(service, plan.current, plan.target)
  }

  /**
   * After a failed change (upgrade): puts back the revision the ledger still calls current. The
   * failed revision never became current, so this is the one to return to.
   */
  async reapplyCurrent(service: string, failedRevision: number): Promise<RestoreResult> {
    const current = await this.ledger.current(service)
    if (!current) throw new OsctlError('COMMAND_FAILED', `${this.host.name}: ${service} has no current revision to return to`)
    const result = await this.apply(service, current, current)
    return {...result, from: failedRevision}
  }

  /**
   * Undo of a change a killed osctl left half-done (see journal.ts): the revision the ledger still
   * calls current is put back, and the half-done one is marked interrupted.
   */
  async undoInterrupted(service: string, halfDone: number): Promise<RestoreResult> {
    const result = await this.reapplyCurrent(service, halfDone)
    const half = await this.ledger.read(service, halfDone)
    if (half && half.outcome === 'deploying') await this.ledger.writeRecord({...half, outcome: 'interrupted', error: 'osctl was killed during this change; undone by `service rollback`'})
    return result
  }

  private async apply(service: string, current: RevisionRecord, target: RevisionRecord): Promise<RestoreResult> {
    this.reporter.emit('revision.restoring', {service, revision: target.revision, ...(current.revision === target.revision ? {} : {leaving: current.revision})}, this.host.name)
    const journal = new Journal(this.host)
    await journal.begin({op: 'rollback', operation: this.operation, service, revision: target.revision, current: current.revision})
    const recreated: string[] = []
    // Every saved and installed unit in one read; the kept containers' units rewritten at once, one reload.
    const saved = (c: RevisionContainer) => posix.join(revisionDir(service, target.revision), 'units', c.unitName)
    const files = await this.host.readFiles(target.containers.flatMap((c) => [saved(c), serviceUnitPath(c.name)]))
    const text = (p: string) => files.get(p)?.toString('utf8')
    const actuals = await Promise.all(target.containers.map((c) => this.docker.inspectContainer(c.name)))
    const kept = new Set(target.containers.filter((c, i) => actuals[i]?.labels[LABELS.configHash] === c.hash && actuals[i]?.imageId === c.imageId).map((c) => c.name))
    for (const c of target.containers) if (text(saved(c)) === undefined) throw fileMissing(this.host.name, saved(c))
    const stale = target.containers.filter((c) => kept.has(c.name) && text(serviceUnitPath(c.name)) !== text(saved(c)))
    if (stale.length > 0) {
      await this.host.writeFiles(stale.map((c) => ({path: serviceUnitPath(c.name), data: text(saved(c))!, mode: 0o644})))
      await this.host.run(['systemctl', 'daemon-reload'])
    }
    // An unhealthy container ends the journal (the rollback ran to its end, its result is known);
    // any other failure leaves it for the next rollback to complete.
    let unhealthy = false
    const restoreOne = async (c: RevisionContainer) => {
      await this.restoreConfigDir(service, target.revision, c.name)
      const unit = text(saved(c))!
      const same = kept.has(c.name)
      if (same) {
        await this.docker.removeContainer(nextName(c.name))
        if ((await this.host.exec(['systemctl', 'is-active', c.unitName])).stdout.trim() !== 'active') {
          await this.host.exec(['systemctl', 'reset-failed', c.unitName])
          await this.host.run(['systemctl', 'restart', c.unitName], {timeoutMs: 90_000})
        }
      }
      // By id: the tag may point at another image by now; the revision names exactly one. The
      // container kept from before the last swap is reused when it is exactly this one.
      const health = same
        ? await waitContainerHealthy(this.host, this.docker, c.name, c.spec.health)
        : await this.balancer.around(this.host.name, c.name, async () => {
            await replaceContainer(this.host, this.docker, c.spec, target.revision, unit, {byId: true})
            return waitContainerHealthy(this.host, this.docker, c.name, c.spec.health)
          })
      if (!same) recreated.push(c.name)
      if (!health.healthy) {
        unhealthy = true
        throw new OsctlError('COMMAND_FAILED', `${this.host.name}: ${c.name} is not healthy after rolling back to revision ${target.revision}: ${health.detail}`, {
          details: tailLines(await this.docker.containerLogs(c.name, 40).catch(() => ''), 20),
          hint: `see \`osctl service logs ${c.name} --host ${this.host.name}\``,
        })
      }
      if (!same) await dropPrevious(this.docker, c.name)
    }
    // Containers swapped back go one after another in the service's order; those kept (only their
    // config dir checked and their health) all at once beside them.
    await inOrderBeside(target.containers.filter((x) => !kept.has(x.name)), target.containers.filter((x) => kept.has(x.name)), restoreOne).catch(async (err: unknown) => {
      if (unhealthy) await journal.end(service).catch(() => undefined)
      throw err
    })
    // Containers the newer revision added and the target does not have.
    for (const extra of current.containers.filter((c) => !target.containers.some((t) => t.name === c.name))) {
      await this.host.exec(['systemctl', 'disable', '--now', serviceUnitName(extra.name)], {timeoutMs: 90_000})
      await this.docker.removeContainer(extra.name)
    }
    await this.ledger.settle([...(current.revision !== target.revision ? [{...current, outcome: 'rolled-back' as const}] : []), {...target, outcome: 'active'}], target.revision)
    await journal.end(service)
    this.reporter.emit('revision.restored', {service, revision: target.revision, recreated}, this.host.name)
    return {service, host: this.host.name, from: current.revision, to: target.revision, recreated}
  }

  /**
   * /etc/osctl/<container>/ becomes exactly the revision's copy: changed files replaced (atomically,
   * 0600), extra ones removed. Both sides are on the host, so it is one command there, not a
   * read and a write over SSH per file.
   */
  private async restoreConfigDir(service: string, revision: number, container: string): Promise<void> {
    const saved = posix.join(revisionDir(service, revision), 'config', container)
    await this.host.run(['sh', '-c', SYNC_CONFIG_DIR, 'osctl-sync-config', saved, configDir(container)], {timeoutMs: 60_000})
  }
}


/** sh -c SCRIPT osctl-sync-config SAVED DIR: DIR's files become exactly SAVED's. */
export const SYNC_CONFIG_DIR = [
  'set -eu',
  'src=$1 dst=$2',
  'test -d "$src"',
  'install -d -m 0700 /etc/osctl "$dst"',
  'cd "$src"',
  'find . -type f | while IFS= read -r f; do',
  '  cmp -s "$f" "$dst/$f" && continue',
  '  install -D -m 0600 "$f" "$dst/$f.osctl-new" && mv -f "$dst/$f.osctl-new" "$dst/$f"',
  'done',
  'cd "$dst"',
  'find . -type f | while IFS= read -r f; do test -e "$src/$f" || rm -f "$f"; done',
].join('\n')
