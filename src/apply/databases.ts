import {OsctlError} from '../errors.js'
import type {ContainerClient} from '../docker/docker-client.js'
import type {DatabaseGrant} from '../catalog/plan.js'

const ident = (s: string) => `\`${s.replaceAll('`', '``')}\``
const literal = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`

/**
 * Idempotent SQL: the database, the user (its password reset to the one in passwords.yml, so a
 * changed password takes effect), and its grants. Safe to run on every deploy.
 */
export function databaseSql(dbs: DatabaseGrant[]): string {
  return dbs
    .flatMap((d) => [
      `CREATE DATABASE IF NOT EXISTS ${ident(d.name)};`,
      `CREATE USER IF NOT EXISTS ${literal(d.user)}@'%' IDENTIFIED BY ${literal(d.password)};`,
      `ALTER USER ${literal(d.user)}@'%' IDENTIFIED BY ${literal(d.password)};`,
      `GRANT ALL PRIVILEGES ON ${ident(d.name)}.* TO ${literal(d.user)}@'%';`,
    ])
    .join('\n')
}

/**
 * Runs the SQL with `docker exec` in the mariadb container as root over its unix socket (root@localhost
 * authenticates by socket, so no root password travels anywhere). The SQL holds the services'
 * passwords: it goes on stdin, never in argv, which `ps` on the host would show.
 */
export async function ensureDatabases(docker: ContainerClient, mariadbContainer: string, dbs: DatabaseGrant[], where: string): Promise<void> {
  if (dbs.length === 0) return
  const r = await docker.exec(mariadbContainer, ['mariadb', '--user=root', '--batch'], {timeoutMs: 60_000, input: databaseSql(dbs)})
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${where}: creating databases ${dbs.map((d) => d.name).join(', ')} in ${mariadbContainer} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').at(-1)}`, {
      hint: `is mariadb deployed and healthy there? \`osctl service status mariadb\``,
    })
  }
}
