import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join, posix} from 'node:path'

import {OsctlError, errorMessage} from '../errors.js'
import {Host} from '../hosts/host.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {UNITS_DIR} from '../paths.js'
import {ImageSource, SpecInputs, fetchImage, unpackNew, unpackRecorded, writeRevisionFiles} from './bundle.js'
import {SystemContainerDef, SystemContext, systemContainer} from './definitions.js'
import {probe, unitState, waitHealthy} from './health.js'
import {SlotInfo, UNIT_DIR, bundleDir, slotDir, unitPath} from './layout.js'
import {RevisionStore, SYSTEM_KEEP_REVISIONS} from './revisions.js'
import {RollbackOptions, RollbackPlan, planRollback} from './rollback-plan.js'
import {SlotStore, SystemState} from './slot-store.js'
import {containerId, renderSystemUnit, unitName} from './unit.js'

export type {ImageSource} from './bundle.js'

export interface ApplyResult {
  name: string
  host: string
  status: 'unchanged' | 'installed' | 'upgraded' | 'restarted'
  revision: number
  slot: number
  image: string
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex')

const companionText = (unit: string) => readFileSync(join(UNITS_DIR, unit), 'utf8')

/**
 * Installs, upgrades and rolls back one system container on one host. Two slots: the new revision
 * is unpacked next to the running one, so a rollback to the previous revision is a link flip and a
 * restart; older kept revisions are unpacked again from the host's OCI store (see revisions.ts).
 */

/** How long a running system container that is not healthy yet may take to settle before a restart. */
const SETTLE_SECONDS = 5

export class SystemManager {
  readonly store: SlotStore
  readonly revisions: RevisionStore

  constructor(
    private readonly host: Host,
    private readonly reporter: Reporter = silentReporter,
  ) {
    this.store = new SlotStore(host)
    this.revisions = new RevisionStore(host)
  }

  async state(name: string): Promise<SystemState & {active: string}> {
    const st = await this.store.read(name)
    const active = (await unitState(this.host, unitName(name))).ActiveState ?? 'unknown'
    return {...st, active}
  }

  /** The image config digest, read where the host will read it from. */
  async imageId(source: ImageSource): Promise<string> {
    if (source.kind === 'archive') return source.imageId
    const tls = source.certDir ? ['--cert-dir', source.certDir] : ['--tls-verify=false']
    const r = await this.host.exec(['skopeo', 'inspect', ...tls, '--raw', `docker://${source.ref}`], {timeoutMs: 60_000})
    if (r.exitCode !== 0) {
      const notFound = /manifest unknown|not found|404/i.test(r.stderr)
      throw new OsctlError(notFound ? 'IMAGE_UNKNOWN' : 'COMMAND_FAILED', `${this.host.name}: cannot read image ${source.ref}: ${r.stderr.trim().split('\n').at(-1)}`, {
        hint: notFound ? 'Build and push it first: `osctl image build NAME --push --tag T`.' : 'Check that the registry in osctl.yml is running (`osctl system status registry`).',
      })
    }
    const manifest = JSON.parse(r.stdout)
    const digest = manifest.config?.digest
    if (!digest) throw new OsctlError('IMAGE_UNKNOWN', `${source.ref} is a manifest list or has no config; osctl expects a single-platform image`)
    return digest
  }

  async apply(def: SystemContainerDef, ctx: SystemContext, source: ImageSource, action: 'install' | 'upgrade' = 'install'): Promise<ApplyResult> {
    const name = def.name
    const st = await this.state(name)
    const imageId = await this.imageId(source)
    const needs: SpecInputs = {args: def.args(ctx), env: def.env(ctx), mounts: def.mounts(ctx), ...(def.capabilities ? {capabilities: def.capabilities} : {}), ...(def.nofile ? {nofile: def.nofile} : {})}
    const files = def.files?.(ctx)
    const hashed = def.firstStartEnv ? {...needs, env: needs.env.filter((e) => !def.firstStartEnv!.includes(e.split('=')[0]))} : needs
    const specHash = sha(JSON.stringify({imageId, needs: hashed, unit: this.unitText(def, ctx, 0, 0), ...(files ? {files} : {})}))
    // The reference counts like the content (as for service containers): a new tag is a new
    // revision even when osctl reused the same content for it.
    if (st.current && st.current.specHash === specHash && st.current.image === source.ref) {
      const unitOnDisk = await this.host.readFileIfExists(unitPath(name))
      const expected = await this.host.readFileIfExists(`${slotDir(name, st.current.slot)}/unit`)
      if (unitOnDisk && expected && unitOnDisk.equals(expected)) {
        const lastOutcome = st.history.filter((h) => h.revision === st.current!.revision).at(-1)?.outcome
        // Running but not healthy yet gets a few seconds first: keepalived climbs out of FAULT only
        // after two good checks once this bootstrap restarted haproxy, and was restarted for nothing.
        if (st.active === 'active' && ((await probe(this.host, def.health(ctx))).healthy || (await waitHealthy(this.host, unitName(name), def.health(ctx), Math.min(SETTLE_SECONDS, def.healthTimeoutSeconds))).healthy)) {
          if (lastOutcome === 'failed') await this.store.markLast(name, 'active')
          await this.ensureCompanions(def)
          return this.result(st.current, 'unchanged')
        }
        // Same revision, not serving (stopped, or it never became healthy): start it and gate again.
        await this.host.exec(['systemctl', 'reset-failed', unitName(name)])
        await this.host.run(['systemctl', 'restart', unitName(name)])
        const health = await waitHealthy(this.host, unitName(name), def.health(ctx), def.healthTimeoutSeconds)
        if (!health.healthy) {
          throw new OsctlError('COMMAND_FAILED', `${this.host.name}: ${name} revision ${st.current.revision} is not healthy: ${health.detail}`, {
            details: await this.journalTail(name),
            hint: `See \`journalctl -u ${unitName(name)}\` on ${this.host.name}.`,
          })
        }
        if (lastOutcome === 'failed') await this.store.markLast(name, 'active')
        await this.ensureCompanions(def)
        return this.result(st.current, 'restarted')
      }
    }

    const slot = st.current ? 1 - st.current.slot : 0
    const revision = this.store.nextRevision(st)
    this.reporter.emit('system.install.start', {name, revision, ref: source.ref, slot}, this.host.name)
    // The slot about to be reused keeps a record of its revision, for `rollback --to`.
    if (st.previous) await this.revisions.saveFromSlot(name, st.previous)
    await fetchImage(this.host, name, revision, source)
    const config = await unpackNew(this.host, name, slot, revision, {...needs, mounts: [...needs.mounts, ...(await writeRevisionFiles(this.host, def, revision, files))]})
    const info: SlotInfo = {name, revision, slot, image: source.ref, imageId, specHash, installedAt: new Date().toISOString()}
    const unit = this.unitText(def, ctx, slot, revision)
    await this.host.writeFileAtomic(`${slotDir(name, slot)}/unit`, unit)
    await this.host.writeFileAtomic(`${slotDir(name, slot)}/info.json`, JSON.stringify(info, null, 2) + '\n')
    await this.revisions.save(name, {info, unit, config})
    for (const m of needs.mounts) await this.host.run(['mkdir', '-p', m.source])

    await this.store.appendHistory(name, {revision, slot, image: source.ref, imageId, at: info.installedAt, action, outcome: 'active'})
    await this.activate(name, slot, unit)
    const health = await waitHealthy(this.host, unitName(name), def.health(ctx), def.healthTimeoutSeconds)
    if (health.healthy) {
      this.reporter.emit('system.healthy', {name, revision, detail: health.detail}, this.host.name)
      await this.ensureCompanions(def)
      await this.retain(name)
      return this.result(info, st.current ? 'upgraded' : 'installed')
    }
    const journal = await this.journalTail(name)
    await this.store.markLast(name, 'failed', health.detail)
    if (!st.current) {
      throw new OsctlError('COMMAND_FAILED', `${this.host.name}: ${name} revision ${revision} did not become healthy: ${health.detail}`, {
        details: journal,
        hint: `See \`journalctl -u ${unitName(name)}\` on ${this.host.name}.`,
      })
    }
    await this.restore(def, ctx, st.current)
    await this.store.markLast(name, 'rolled-back', health.detail)
    await this.store.reactivate(name, st.current.revision)
    throw new OsctlError('ROLLED_BACK', `${this.host.name}: ${name} revision ${revision} (${source.ref}) did not become healthy (${health.detail}); rolled back to revision ${st.current.revision} (${st.current.image})`, {
      details: journal,
      hint: `The previous revision serves again. Inspect the failed image, then retry \`osctl system upgrade ${name} --tag …\`.`,
    })
  }

  /** Where a rollback would go on this host, or a USAGE error saying why it cannot; changes nothing. */
  async planRollback(name: string, opts: RollbackOptions = {}): Promise<RollbackPlan> {
    const st = await this.store.read(name)
    return planRollback(this.host.name, st, await this.revisions.inventory(name, st), opts)
  }

  async rollback(def: SystemContainerDef, ctx: SystemContext, opts: RollbackOptions = {}): Promise<ApplyResult> {
    return this.executeRollback(def, ctx, await this.planRollback(def.name, opts))
  }

  /**
   * Back to a kept revision: a link flip when the other slot holds it, else its image is unpacked
   * from the OCI store into the other slot with the config.json and unit it ran with. Gated like
   * an upgrade: if it does not become healthy, the revision that was running is restored.
   */
  async executeRollback(def: SystemContainerDef, ctx: SystemContext, plan: RollbackPlan): Promise<ApplyResult> {
    const {name} = def
    const {current} = plan
    const otherSlot = 1 - current.slot
    this.reporter.emit('system.rollback.start', {name, revision: plan.revision, ...(plan.slot ? {slot: plan.slot.slot} : {unpackInto: otherSlot})}, this.host.name)
    let target = plan.slot
    if (!target) {
      const rec = await this.revisions.read(name, plan.revision)
      if (!rec) throw new OsctlError('USAGE', `${this.host.name}: ${name} revision ${plan.revision} is no longer kept`, {hint: `\`osctl system history ${name}\` lists the kept revisions.`})
      // The other slot is about to be reused: record its revision so it stays reachable too.
      const other = await this.store.slotInfo(name, otherSlot)
      if (other) await this.revisions.saveFromSlot(name, other)
      target = await unpackRecorded(this.host, rec, otherSlot)
    }
    const unit = (await this.host.readFile(`${slotDir(name, target.slot)}/unit`)).toString('utf8')
    await this.store.appendHistory(name, {revision: target.revision, slot: target.slot, image: target.image, imageId: target.imageId, at: new Date().toISOString(), action: 'rollback', outcome: 'active'})
    await this.activate(name, target.slot, unit)
    const health = await waitHealthy(this.host, unitName(name), def.health(ctx), def.healthTimeoutSeconds)
    if (health.healthy) {
      this.reporter.emit('system.restored', {name, revision: target.revision, detail: health.detail}, this.host.name)
      return this.result(target, 'upgraded')
    }
    const journal = await this.journalTail(name)
    await this.store.markLast(name, 'rolled-back', health.detail)
    await this.restore(def, ctx, current)
    await this.store.reactivate(name, current.revision)
    throw new OsctlError('ROLLED_BACK', `${this.host.name}: ${name} revision ${target.revision} (${target.image}) did not become healthy (${health.detail}); revision ${current.revision} (${current.image}) runs again`, {
      details: journal,
      hint: `Nothing was lost: revision ${target.revision} stays kept (\`--force\` to try it again). \`osctl system history ${name}\` lists the other kept revisions.`,
    })
  }

  async remove(name: string): Promise<void> {
    // Companions first: keepalived's stops keepalived (the VIP moves) as the removal would.
    for (const unit of systemContainer(name)?.companionUnits ?? []) {
      await this.host.exec(['systemctl', 'disable', '--now', unit])
      await this.host.remove(posix.join(UNIT_DIR, unit))
    }
    await this.host.exec(['systemctl', 'disable', '--now', unitName(name)])
    await this.host.exec(['runc', 'delete', '--force', containerId(name)])
    await this.host.remove(unitPath(name))
    await this.host.run(['systemctl', 'daemon-reload'])
    await this.host.run(['rm', '-rf', `/var/lib/osctl/system/${name}`])
    // Last: the service is gone whatever the store says; running remove again retries this.
    await this.revisions.removeImages(name)
    // Data dirs stay: removing a system container must never destroy its data.
  }

  private async restore(def: SystemContainerDef, ctx: SystemContext, target: SlotInfo): Promise<void> {
    const raw = await this.host.readFile(`${slotDir(def.name, target.slot)}/unit`)
    await this.activate(def.name, target.slot, raw.toString('utf8'))
    const health = await waitHealthy(this.host, unitName(def.name), def.health(ctx), def.healthTimeoutSeconds)
    if (!health.healthy) {
      throw new OsctlError('COMMAND_FAILED', `${this.host.name}: ${def.name} revision ${target.revision} is not healthy after restore: ${health.detail}`, {
        hint: `See \`journalctl -u ${unitName(def.name)}\` on ${this.host.name}.`,
      })
    }
    this.reporter.emit('system.restored', {name: def.name, revision: target.revision, detail: health.detail}, this.host.name)
  }

  /**
   * Drops the images and records of revisions beyond the rollback depth. Housekeeping after a
   * healthy revision: if it fails the upgrade still stands, and the next one tries again.
   */
  private async retain(name: string): Promise<void> {
    try {
      const removed = await this.revisions.prune(name, await this.store.read(name))
      if (removed.length > 0) {
        this.reporter.emit('system.pruned', {name, revisions: removed, keep: SYSTEM_KEEP_REVISIONS}, this.host.name)
      }
    } catch (err) {
      this.reporter.emit('system.prune.failed', {name, error: errorMessage(err)}, this.host.name)
    }
  }

  /**
   * The definition's static companion units, once it runs healthy: each written when this host's
   * copy differs (then a daemon-reload), and enabled and started on every apply (not waited for:
   * keepalived's is ordered after every service container's start), so one stopped or disabled
   * since is put back. Never before the container is in place: a failed first install leaves none.
   */
  private async ensureCompanions(def: SystemContainerDef): Promise<void> {
    const units = def.companionUnits ?? []
    if (units.length === 0) return
    let written = false
    for (const unit of units) if (await this.host.writeFileAtomic(posix.join(UNIT_DIR, unit), companionText(unit))) written = true
    if (written) await this.host.run(['systemctl', 'daemon-reload'])
    await this.host.run(['systemctl', 'enable', '--now', '--no-block', ...units])
  }

  private async activate(name: string, slot: number, unit: string): Promise<void> {
    const changed = await this.host.writeFileAtomic(unitPath(name), unit)
    await this.store.flip(name, slot)
    if (changed) await this.host.run(['systemctl', 'daemon-reload'])
    await this.host.run(['systemctl', 'enable', unitName(name)])
    await this.host.exec(['systemctl', 'reset-failed', unitName(name)])
    await this.host.run(['systemctl', 'restart', unitName(name)])
  }

  private unitText(def: SystemContainerDef, ctx: SystemContext, slot: number, revision: number): string {
    const dataDirs = def.mounts(ctx).map((m) => m.source)
    return renderSystemUnit({name: def.name, description: def.description, revision, slot, bundle: bundleDir(def.name, slot), dataDirs, beforeDocker: def.beforeDocker})
  }

  private async journalTail(name: string): Promise<string[]> {
    const r = await this.host.exec(['journalctl', '-u', unitName(name), '-n', '20', '--no-pager', '-o', 'cat'])
    return r.stdout.trim().split('\n')
  }

  private result(info: SlotInfo, status: ApplyResult['status']): ApplyResult {
    return {name: info.name, host: this.host.name, status, revision: info.revision, slot: info.slot, image: info.image}
  }
}
