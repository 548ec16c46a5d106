import {posix} from 'node:path'

/** Where a system container lives on a host. Slots 0 and 1 hold the two newest revisions. */
export const SYSTEM_ROOT = '/var/lib/osctl/system'
export const OCI_STORE = '/var/lib/osctl/oci'
/** Data of system containers lives outside the slots so an upgrade or rollback keeps it. */
export const SYSTEM_DATA_DIR = '/var/lib/osctl/data'
export const UNIT_DIR = '/etc/systemd/system'
/**
 * The OCI store is shared by every system container and every osctl on the host: writers (copy,
 * rm, gc: gc drops blobs no tag reaches, such as those of a copy in flight) hold it exclusively,
 * readers (ls, unpack) shared.
 */
export const OCI_LOCK = '/var/lib/osctl/oci.lock'
export const underOciLock = (mode: 'shared' | 'exclusive', argv: string[]): string[] => ['flock', mode === 'shared' ? '-s' : '-x', '-w', '600', OCI_LOCK, ...argv]

export interface SlotInfo {
  name: string
  revision: number
  slot: number
  image: string
  /** Digest of the image config: identifies the image whatever registry or archive it came from. */
  imageId: string
  /** Hash of everything that decides how it runs (image, args, env, mounts, unit text). */
  specHash: string
  installedAt: string
}

export interface HistoryEntry {
  revision: number
  slot: number
  image: string
  imageId: string
  at: string
  action: 'install' | 'upgrade' | 'rollback'
  outcome: 'active' | 'rolled-back' | 'superseded' | 'failed'
  reason?: string
}

export const systemDir = (name: string) => posix.join(SYSTEM_ROOT, name)
export const slotDir = (name: string, slot: number) => posix.join(SYSTEM_ROOT, name, `slot-${slot}`)
export const bundleDir = (name: string, slot: number) => posix.join(slotDir(name, slot), 'bundle')
export const currentLink = (name: string) => posix.join(SYSTEM_ROOT, name, 'current')
export const historyFile = (name: string) => posix.join(SYSTEM_ROOT, name, 'history.json')
export const unitPath = (name: string) => posix.join(UNIT_DIR, `osctl-${name}.service`)
export const ociRef = (name: string, tag: string) => `oci:${OCI_STORE}:${name}-${tag}`
/** Per-revision record (info.json, unit, config.json): what a rollback to a revision no slot holds needs. */
export const revisionDir = (name: string, revision: number) => posix.join(SYSTEM_ROOT, name, 'revisions', String(revision))
/** The OCI store tag of a revision's image; `umoci --image` wants `<layout>:<tag>`. */
export const storeTag = (name: string, revision: number) => `${name}-r${revision}`
export const storeImage = (name: string, revision: number) => `${OCI_STORE}:${storeTag(name, revision)}`
