import {posix} from 'node:path'

import {FileWrite, Host} from '../hosts/host.js'
import {ContainerSpec} from '../catalog/container-spec.js'

/**
 * The per-service revision ledger on each host. Upgrade and rollback build on this format, so it
 * is documented here and only ever extended:
 *
 *   /var/lib/osctl/services/<service>/
 *     current                     the revision number in force, one line ("3\n")
 *     bootstrap.json              {"<step>": "<key>"}: key of the last successful run of each
 *                                 bootstrap step (sha256 of image id + rendered config + step)
 *     fingerprints.json           {"<image id> <paths>": "sha256:…"}: image paths read for
 *                                 steps with image_paths (bootstrap-steps.ts), a cache
 *     revisions/<n>/record.json   RevisionRecord (below)
 *     revisions/<n>/config/<container>/<file>   the rendered config dir exactly as deployed
 *     revisions/<n>/units/<unit>  the systemd unit text of each container
 *
 * A new revision is written only when a container spec changed (specHash differs); its record is
 * written with outcome "deploying" before any container is touched and rewritten with "active" or
 * "failed" after the health gate. The whole tree is root-only (0700): configs hold passwords.
 */
export const SERVICES_ROOT = '/var/lib/osctl/services'
export const FINGERPRINTS = 'fingerprints.json'

export interface RevisionContainer {
  name: string
  /** Registry reference as deployed, and the engine's image id it resolved to. */
  image: string
  imageId: string
  spec: ContainerSpec
  /** io.osctl.config-hash of the container. */
  hash: string
  unitName: string
  /** Why this container was (re)created in this revision: ['new'], ['image', 'config:keystone.conf'] … ; [] = carried over. */
  changed: string[]
}

export interface RevisionRecord {
  format: 1
  service: string
  host: string
  revision: number
  /** The revision this one replaced (undefined for the first). */
  previous?: number
  createdAt: string
  /** user@machine that ran osctl. */
  createdBy: string
  osctlVersion?: string
  /**
   * rolled-back: it was active, then `osctl service rollback` returned to an older revision.
   * interrupted: osctl was killed while putting it in place (see journal.ts); the next command
   * completed the change under a new revision or undid it.
   */
  outcome: 'deploying' | 'active' | 'failed' | 'rolled-back' | 'interrupted'
  /** The osctl invocation that wrote it (journal.ts newOperationId). */
  operation?: string
  /** Set with outcome failed. */
  error?: string
  containers: RevisionContainer[]
}

export const serviceDir = (service: string) => posix.join(SERVICES_ROOT, service)
export const revisionDir = (service: string, n: number) => posix.join(serviceDir(service), 'revisions', String(n))

export class Ledger {
  /** Per service, the last bootstrap.json update queued: steps that end at once (one beside another) must not lose each other's key. */
  private readonly keyWrites = new Map<string, Promise<void>>()

  constructor(private readonly host: Host) {}

  async current(service: string): Promise<RevisionRecord | undefined> {
    const n = await this.currentNumber(service)
    return n === undefined ? undefined : this.read(service, n)
  }

  async currentNumber(service: string): Promise<number | undefined> {
    const raw = await this.host.readFileIfExists(posix.join(serviceDir(service), 'current'))
    const n = Number(raw?.toString('utf8').trim())
    return raw && Number.isInteger(n) && n > 0 ? n : undefined
  }

  async read(service: string, n: number): Promise<RevisionRecord | undefined> {
    const raw = await this.host.readFileIfExists(posix.join(revisionDir(service, n), 'record.json'))
    return raw ? (JSON.parse(raw.toString('utf8')) as RevisionRecord) : undefined
  }

  /** Highest revision on disk + 1, so a failed revision's number is never reused. */
  async nextNumber(service: string): Promise<number> {
    const r = await this.host.exec(['sh', '-c', 'ls -1 "$1" 2>/dev/null || true', 'osctl', posix.join(serviceDir(service), 'revisions')])
    const nums = r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0)
    return Math.max(0, ...nums, (await this.currentNumber(service)) ?? 0) + 1
  }

  /** Writes the config copies, the units and the record of a revision, in one batch (record last). */
  async write(record: RevisionRecord, configs: Record<string, Record<string, string>>, units: Record<string, string>): Promise<void> {
    const {dirs, files} = revisionWrites(record, configs, units)
    await this.host.run(['install', '-d', '-m', '0700', ...dirs])
    await this.host.writeFiles(files)
  }

  async writeRecord(record: RevisionRecord): Promise<void> {
    await this.host.writeFileAtomic(posix.join(revisionDir(record.service, record.revision), 'record.json'), JSON.stringify(record, null, 2) + '\n', {mode: 0o600})
  }

  /** Records rewritten and the current revision set, in one round trip (the current file last). */
  async settle(records: RevisionRecord[], current: number): Promise<void> {
    const service = records[0].service
    await this.host.writeFiles([
      ...records.map((r) => ({path: posix.join(revisionDir(r.service, r.revision), 'record.json'), data: JSON.stringify(r, null, 2) + '\n', mode: 0o600})),
      {path: posix.join(serviceDir(service), 'current'), data: `${current}\n`, mode: 0o600},
    ])
  }

  async setCurrent(service: string, n: number): Promise<void> {
    await this.host.writeFileAtomic(posix.join(serviceDir(service), 'current'), `${n}\n`, {mode: 0o600})
  }

  async bootstrapKeys(service: string): Promise<Record<string, string>> {
    const raw = await this.host.readFileIfExists(posix.join(serviceDir(service), 'bootstrap.json'))
    return raw ? (JSON.parse(raw.toString('utf8')) as Record<string, string>) : {}
  }

  /** Fingerprints of image paths (bootstrap-steps.ts fingerprintKey → sha256), a cache: an image's content never changes. */
  async fingerprints(service: string): Promise<Record<string, string>> {
    const raw = await this.host.readFileIfExists(posix.join(serviceDir(service), FINGERPRINTS))
    return raw ? (JSON.parse(raw.toString('utf8')) as Record<string, string>) : {}
  }

  async setFingerprints(service: string, fingerprints: Record<string, string>): Promise<void> {
    await this.host.run(['install', '-d', '-m', '0700', SERVICES_ROOT, serviceDir(service)])
    await this.host.writeFileAtomic(posix.join(serviceDir(service), FINGERPRINTS), JSON.stringify(fingerprints, null, 2) + '\n', {mode: 0o600})
  }

  async setBootstrapKey(service: string, step: string, key: string): Promise<void> {
    const write = async () => {
      const keys = {...(await this.bootstrapKeys(service)), [step]: key}
      // Its directories and the file in one round trip (a key is written after every step, between
      // a db sync and the containers it lets start: three round trips were 0.3-1 s on a busy host).
      await this.host.writeFiles([{path: posix.join(serviceDir(service), 'bootstrap.json'), data: JSON.stringify(keys, null, 2) + '\n', mode: 0o600}], {dirs: [SERVICES_ROOT, serviceDir(service)]})
    }
    const next = (this.keyWrites.get(service) ?? Promise.resolve()).catch(() => undefined).then(write)
    this.keyWrites.set(service, next)
    return next
  }
}

/** Every revision kept for a service on a host, oldest first. */
export async function listRevisions(host: Host, service: string): Promise<RevisionRecord[]> {
  const ledger = new Ledger(host)
  const r = await host.exec(['sh', '-c', 'ls -1 "$1" 2>/dev/null || true', 'osctl', posix.join(serviceDir(service), 'revisions')])
  const nums = r.stdout.split('\n').map(Number).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b)
  const records = await Promise.all(nums.map((n) => ledger.read(service, n)))
  return records.filter((x): x is RevisionRecord => x !== undefined)
}

/**
 * A new revision's files (Ledger.write): the directories to create (0700) first, then the files in
 * one round trip, the record renamed into place last. Exposed so a caller can write other files
 * in the same round trip, before them.
 */
export function revisionWrites(record: RevisionRecord, configs: Record<string, Record<string, string>>, units: Record<string, string>): {dirs: string[]; files: FileWrite[]} {
  const dir = revisionDir(record.service, record.revision)
  return {
    dirs: [SERVICES_ROOT, serviceDir(record.service), dir],
    files: [
      ...Object.entries(configs).flatMap(([container, files]) => Object.entries(files).map(([file, data]) => ({path: posix.join(dir, 'config', container, file), data, mode: 0o600}))),
      ...Object.entries(units).map(([unit, data]) => ({path: posix.join(dir, 'units', unit), data, mode: 0o644})),
      {path: posix.join(dir, 'record.json'), data: JSON.stringify(record, null, 2) + '\n', mode: 0o600},
    ],
  }
}
