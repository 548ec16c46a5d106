import {mkdir, open, readFile, rename, rm, stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {probeHealth} from '../apply/container-health.js'
import {groupHosts} from '../catalog/group-hosts.js'
import {OsctlError} from '../errors.js'
import type {Host} from '../hosts/host.js'
import {dumpDatabases, loadDump, userDatabases} from '../revisions/db-backup.js'
import {Ledger} from '../revisions/ledger.js'
import type {DeployContext} from '../session/deploy-context.js'
import type {SiteHost} from '../site/types.js'
import {serviceRows} from './service-inventory.js'

export interface SiteBackup {
  path: string
  bytes: number
  host: string
  databases: string[]
  at: string
}

/** The first line of every backup: what it is, from where, when (an SQL comment). */
const HEADER = '-- osctl mariadb backup'
const DUMP_END = /^-- Dump completed/m

/** The host running mariadb (databases live on the first host of its group, as deploy creates them). */
export function databaseHost(ctx: DeployContext): SiteHost {
  const def = ctx.catalog.get('mariadb')
  const host = def ? groupHosts(ctx.site, def)[0] : undefined
  if (!host) throw new OsctlError('USAGE', 'no host runs mariadb', {location: ctx.site.files.inventory, hint: 'mariadb runs on the first host of its group (control)'})
  return host
}

export const defaultBackupDir = (siteDir: string) => join(siteDir, 'backups')

/**
 * One consistent dump of every database but the server's own (dumpDatabases: a single transaction,
 * DROP DATABASE before each, the same form as the snapshots upgrades take), streamed from the
 * host's session into `<dir>/mariadb-<UTC time><suffix>.sql`, created 0600 under a temporary name
 * and renamed only once the dump ended complete.
 */
export async function backupTo(dbHost: Host, dir: string, suffix = ''): Promise<SiteBackup> {
  const databases = await userDatabases(dbHost)
  if (databases.length === 0) throw new OsctlError('COMMAND_FAILED', `${dbHost.name}: mariadb holds no database to back up`, {hint: 'deploy the services first'})
  await mkdir(dir, {recursive: true, mode: 0o700})
  const at = new Date().toISOString()
  const path = resolve(dir, `mariadb-${at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}${suffix}.sql`)
  const part = `${path}.part`
  const fh = await open(part, 'wx', 0o600)
  let written = Promise.resolve()
  let bytes = 0
  const write = (chunk: string) => {
    bytes += Buffer.byteLength(chunk)
    written = written.then(() => fh.write(chunk).then(() => undefined))
  }
  try {
    write(`${HEADER} of ${dbHost.name} at ${at}; databases: ${databases.join(' ')}\n`)
    const r = await dumpDatabases(dbHost, databases, write)
    await written
    if (r.exitCode !== 0 || !DUMP_END.test(r.stdout.slice(-4096))) {
      throw new OsctlError('COMMAND_FAILED', `${dbHost.name}: mariadb-dump ${r.exitCode === 0 ? 'ended without its completion line' : `failed: ${r.stderr.trim().split('\n').at(-1)}`}`, {
        hint: 'nothing was kept; check the mariadb container (`osctl service status mariadb`)',
      })
    }
    await fh.sync()
    await fh.close()
    await rename(part, path)
  } catch (err) {
    await fh.close().catch(() => undefined)
    await rm(part, {force: true})
    throw err
  }
  return {path, bytes, host: dbHost.name, databases, at}
}

/** A FILE to restore must be a mariadb dump (an osctl backup or an upgrade snapshot), checked before any host is asked. */
export async function readDumpFile(file: string): Promise<Buffer> {
  const st = await stat(file).catch(() => undefined)
  if (!st?.isFile()) throw new OsctlError('USAGE', `${file}: no such file`, {location: 'FILE', hint: 'give a file `osctl mariadb backup` wrote (under the site dir’s backups/)'})
  const data = await readFile(file)
  const head = data.subarray(0, 2048).toString('utf8')
  if (!head.startsWith(HEADER) && !/^-- (MariaDB|MySQL) dump/m.test(head)) {
    throw new OsctlError('USAGE', `${file}: not a mariadb dump (no \`${HEADER}\` or \`-- MariaDB dump\` header)`, {location: 'FILE', hint: 'give a file `osctl mariadb backup` wrote'})
  }
  if (!DUMP_END.test(data.subarray(Math.max(0, data.length - 4096)).toString('utf8'))) {
    throw new OsctlError('USAGE', `${file}: the dump is incomplete (no \`-- Dump completed\` line at its end)`, {location: 'FILE', hint: 'a cut-short copy; take the backup again'})
  }
  return data
}

/** Health of mariadb itself on its host, from its current revision's check. */
export async function mariadbHealth(ctx: DeployContext, dbHost: SiteHost): Promise<{healthy: boolean; detail: string}> {
  const host = ctx.session.host(dbHost)
  const spec = (await new Ledger(host).current('mariadb'))?.containers[0]?.spec
  if (!spec) return {healthy: false, detail: 'mariadb is not deployed there'}
  return probeHealth(host, spec.health, {docker: ctx.session.docker(dbHost), container: spec.name})
}

export async function restoreDump(dbHost: Host, dump: Buffer): Promise<void> {
  const r = await loadDump(dbHost, dump)
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${dbHost.name}: loading the dump failed: ${r.stderr.trim().split('\n').at(-1)}`, {hint: 'the backup taken just before the restore puts the previous state back'})
  }
}

/** After a restore: mariadb and every deployed service that has databases answer their health checks (within timeoutMs). */
export async function waitDatabaseServices(ctx: DeployContext, timeoutMs = 120_000): Promise<{healthy: boolean; detail: string[]}> {
  const users = new Set(['mariadb', ...ctx.catalog.services.filter((s) => s.databases.length > 0).map((s) => s.name)])
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const {rows, errors} = await serviceRows(ctx, {health: true})
    const bad = [...rows.filter((r) => users.has(r.service) && !r.healthy).map((r) => `${r.host}/${r.container}: ${r.detail}`), ...errors.map((e) => `${e.host}: ${e.error.message}`)]
    if (bad.length === 0) return {healthy: true, detail: rows.filter((r) => users.has(r.service)).map((r) => `${r.host}/${r.container}`)}
    if (Date.now() > deadline) return {healthy: false, detail: bad}
    await sleep(2000)
  }
}
