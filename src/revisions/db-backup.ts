import {createHash} from 'node:crypto'
import {posix} from 'node:path'

import {OsctlError} from '../errors.js'
import {ExecResult, Host} from '../hosts/host.js'
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
  /** schemaFingerprint when the snapshot was taken (absent: unknown, a restore always happens). */
  schema?: string
}

const MARIADB = 'mariadb'
export const backupFile = (service: string, revision: number) => posix.join(serviceDir(service), 'backups', `before-${revision}.sql`)
const metaFile = (service: string, revision: number) => posix.join(serviceDir(service), 'backups', `before-${revision}.json`)

/**
 * One consistent dump (a single transaction) of these databases, in the form every snapshot and
 * backup has: with DROP DATABASE before each, so loading it also removes what was added since.
 * It comes back on stdout (and to onChunk as it arrives), never through a file on the host;
 * --hex-blob keeps binary columns ASCII, so the text stream carries them intact.
 */
export function dumpDatabases(dbHost: Host, databases: string[], onChunk?: (chunk: string) => void): Promise<ExecResult> {
  return dbHost.exec(['docker', 'exec', MARIADB, 'mariadb-dump', '--single-transaction', '--routines', '--events', '--hex-blob', '--add-drop-database', '--databases', ...databases], {timeoutMs: 3_600_000, onStdout: onChunk})
}

/** Loads a dump (a snapshot or a backup) into mariadb, on stdin. */
export function loadDump(dbHost: Host, dump: string | Buffer): Promise<ExecResult> {
  return dbHost.exec(['docker', 'exec', '-i', MARIADB, 'mariadb'], {input: dump, timeoutMs: 3_600_000})
}

/** The server's own databases: never in a backup (accounts and grants are deploy's, from passwords.yml). */
export const SYSTEM_DATABASES = ['information_schema', 'performance_schema', 'mysql', 'sys']

/** Every database but the server's own. */
export async function userDatabases(dbHost: Host): Promise<string[]> {
  const out = await dbHost.run(['docker', 'exec', MARIADB, 'mariadb', '-N', '-B', '-e', 'SHOW DATABASES'])
  return out.split('\n').map((d) => d.trim()).filter((d) => d && !SYSTEM_DATABASES.includes(d))
}

export async function backupDatabases(dbHost: Host, service: string, databases: string[], revision: number): Promise<BackupMeta> {
  // Both read the same pre-upgrade state (nothing migrates before the snapshot returns): side by side.
  const [schema, r] = await Promise.all([schemaFingerprint(dbHost, databases), dumpDatabases(dbHost, databases)])
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${dbHost.name}: backing up ${databases.join(', ')} before ${service} revision ${revision} failed: ${r.stderr.trim().split('\n').at(-1)}`, {
      hint: 'Nothing was changed; check the mariadb container (`osctl service logs mariadb`).',
    })
  }
  await dbHost.run(['install', '-d', '-m', '0700', posix.dirname(backupFile(service, revision))])
  const meta: BackupMeta = {service, revision, databases, at: new Date().toISOString(), bytes: Buffer.byteLength(r.stdout), ...(schema ? {schema} : {})}
  // One round trip; the metadata (what readBackup finds) is renamed into place after the dump.
  await dbHost.writeFiles([
    {path: backupFile(service, revision), data: r.stdout, mode: 0o600},
    {path: metaFile(service, revision), data: JSON.stringify(meta, null, 2) + '\n', mode: 0o600},
  ])
  return meta
}

/** Removes a snapshot taken for a change that did not happen. */
export async function dropBackup(dbHost: Host, meta: BackupMeta): Promise<void> {
  await dbHost.run(['rm', '-f', metaFile(meta.service, meta.revision), backupFile(meta.service, meta.revision)])
}

export async function readBackup(dbHost: Host, service: string, revision: number): Promise<BackupMeta | undefined> {
  const raw = await dbHost.readFileIfExists(metaFile(service, revision))
  return raw ? (JSON.parse(raw.toString('utf8')) as BackupMeta) : undefined
}

export async function restoreDatabases(dbHost: Host, meta: BackupMeta): Promise<void> {
  const dump = await dbHost.readFile(backupFile(meta.service, meta.revision))
  const r = await loadDump(dbHost, dump)
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

/**
 * A digest of what a migration changes: every table's columns and indexes, and the rows of the
 * migration version tables (alembic_version, migrate_version) of these databases. Undefined when
 * mariadb cannot be asked (then a rollback restores the snapshot, as it would without one).
 */
export async function schemaFingerprint(dbHost: Host, databases: string[]): Promise<string | undefined> {
  const names = databases.filter((d) => /^[A-Za-z0-9_]+$/.test(d))
  if (names.length === 0) return undefined
  const inList = names.map((d) => `'${d}'`).join(',')
  const versionTables = `SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables WHERE table_schema IN (${inList}) AND table_name IN ('alembic_version', 'migrate_version') ORDER BY 1`
  const schema = [
    `SELECT table_schema, table_name, column_name, column_type, is_nullable, column_default, column_key FROM information_schema.columns WHERE table_schema IN (${inList}) ORDER BY table_schema, table_name, ordinal_position;`,
    `SELECT table_schema, table_name, index_name, seq_in_index, column_name, non_unique FROM information_schema.statistics WHERE table_schema IN (${inList}) ORDER BY table_schema, table_name, index_name, seq_in_index;`,
  ].join(' ')
  // One docker exec (each costs a few hundred ms on a host): the version tables that exist, then
  // the schema and their rows in one query.
  const r = await dbHost.exec(['docker', 'exec', MARIADB, 'sh', '-c', FINGERPRINT_SCRIPT, 'sh', versionTables, schema])
  if (r.exitCode !== 0) return undefined
  return `sha256:${createHash('sha256').update(r.stdout).digest('hex')}`
}

/** $1 lists schema.table names (one per line), $2 is the rest of the query: each listed table's rows are appended to it. */
const FINGERPRINT_SCRIPT = [
  't=$(mariadb -N -B -e "$1") || exit 1',
  'q="$2"',
  `for x in $t; do case $x in *[!A-Za-z0-9_.]* | *.*.* | .* | *. ) ;; *.*) q="$q SELECT '$x', t.* FROM $x t;" ;; esac; done`,
  'exec mariadb -N -B -e "$q"',
].join('\n')

/**
 * Puts the snapshot back only when the schema moved since it was taken: a revision that did not
 * migrate leaves the databases alone, so nothing written since the upgrade is lost.
 */
export async function restoreIfMigrated(dbHost: Host, meta: BackupMeta): Promise<'restored' | 'unchanged'> {
  if (meta.schema && (await schemaFingerprint(dbHost, meta.databases)) === meta.schema) return 'unchanged'
  await restoreDatabases(dbHost, meta)
  return 'restored'
}
