import {posix} from 'node:path'

import {OsctlError} from '../errors.js'
import {Host} from '../hosts/host.js'
import {serviceDir} from './ledger.js'

/**
 * Database snapshots taken before a change that may migrate a schema, kept on the database host
 * next to the service's ledger: backups/before-<rev>.sql is the state before revision <rev>.
 * `--add-drop-database` so a restore also removes tables a migration added.
 */
export interface BackupMeta {
  service: string
  /** The revision whose change the snapshot precedes. */
  revision: number
  databases: string[]
  at: string
  bytes: number
}

const MARIADB = 'mariadb'
export const backupFile = (service: string, revision: number) => posix.join(serviceDir(service), 'backups', `before-${revision}.sql`)
const metaFile = (service: string, revision: number) => posix.join(serviceDir(service), 'backups', `before-${revision}.json`)

export async function backupDatabases(dbHost: Host, service: string, databases: string[], revision: number): Promise<BackupMeta> {
  const r = await dbHost.exec(['docker', 'exec', MARIADB, 'mariadb-dump', '--single-transaction', '--routines', '--add-drop-database', '--databases', ...databases], {timeoutMs: 600_000})
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${dbHost.name}: backing up ${databases.join(', ')} before ${service} revision ${revision} failed: ${r.stderr.trim().split('\n').at(-1)}`, {
      hint: 'Nothing was changed; check the mariadb container (`osctl service logs mariadb`).',
    })
  }
  await dbHost.run(['install', '-d', '-m', '0700', posix.dirname(backupFile(service, revision))])
  await dbHost.writeFileAtomic(backupFile(service, revision), r.stdout, {mode: 0o600})
  const meta: BackupMeta = {service, revision, databases, at: new Date().toISOString(), bytes: Buffer.byteLength(r.stdout)}
  await dbHost.writeFileAtomic(metaFile(service, revision), JSON.stringify(meta, null, 2) + '\n', {mode: 0o600})
  return meta
}

export async function readBackup(dbHost: Host, service: string, revision: number): Promise<BackupMeta | undefined> {
  const raw = await dbHost.readFileIfExists(metaFile(service, revision))
  return raw ? (JSON.parse(raw.toString('utf8')) as BackupMeta) : undefined
}

export async function restoreDatabases(dbHost: Host, meta: BackupMeta): Promise<void> {
  const dump = await dbHost.readFile(backupFile(meta.service, meta.revision))
  const r = await dbHost.exec(['docker', 'exec', '-i', MARIADB, 'mariadb'], {input: dump, timeoutMs: 600_000})
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${dbHost.name}: restoring ${meta.databases.join(', ')} (snapshot before revision ${meta.revision}) failed: ${r.stderr.trim().split('\n').at(-1)}`, {
      hint: `The snapshot is ${backupFile(meta.service, meta.revision)} on ${dbHost.name}.`,
    })
  }
}

/**
 * The snapshot taken before an interrupted upgrade is the pre-upgrade state; the upgrade that
 * completes it must not snapshot the half-migrated database instead: it gets a copy of the first.
 */
export async function carryBackup(dbHost: Host, meta: BackupMeta, revision: number): Promise<BackupMeta> {
  await dbHost.writeFileAtomic(backupFile(meta.service, revision), await dbHost.readFile(backupFile(meta.service, meta.revision)), {mode: 0o600})
  const carried: BackupMeta = {...meta, revision}
  await dbHost.writeFileAtomic(metaFile(meta.service, revision), JSON.stringify(carried, null, 2) + '\n', {mode: 0o600})
  return carried
}
