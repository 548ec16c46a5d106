import {waitContainerHealthy} from '../apply/container-health.js'
import {GALERA_CONTAINER, GALERA_VOLUME, GaleraNode, clearNewCluster, markNewCluster, observeGaleraNode} from '../apply/galera.js'
import {serviceUnitName} from '../apply/service-unit.js'
import {configDir} from '../catalog/container-spec.js'
import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'
import type {Reporter} from '../events/reporters.js'
import type {Host} from '../hosts/host.js'

/** A node's last committed position, as recover read it. */
export interface RecoverNode {
  host: string
  uuid: string
  seqno: number
  safeToBootstrap: boolean
  /** grastate: the datadir's grastate.dat (clean shutdown); wsrep-recover: InnoDB's own record (mariadbd --wsrep-recover). */
  source: 'grastate' | 'wsrep-recover'
}

export interface RecoverResult {
  /** The node the cluster was bootstrapped from; null when a primary component was already up. */
  chosen: string | null
  reason: string
  nodes: RecoverNode[]
  /** Nodes started after the chosen one, in order, each Synced before the next. */
  rejoined: string[]
}

export interface GaleraMember {
  host: Host
  docker: ContainerClient
}

const HEALTH = {kind: 'exec' as const, target: 'osctl-mariadb-health', timeoutSeconds: 300}

/**
 * Most advanced first: the highest seqno; among equals the one whose grastate says it left last
 * (safe_to_bootstrap), then inventory order. Nodes from different clusters (uuid) are refused.
 */
export function chooseBootstrapNode(nodes: RecoverNode[]): {chosen: RecoverNode; reason: string} {
  const uuids = new Set(nodes.map((n) => n.uuid))
  if (uuids.size > 1) {
    throw new OsctlError('COMMAND_FAILED', `the nodes belong to different galera clusters: ${nodes.map((n) => `${n.host} ${n.uuid}`).join(', ')}`, {
      hint: 'a node with another cluster’s data must be emptied (its mariadb volume removed) before it can rejoin: decide which data to keep by hand',
    })
  }
  const ranked = [...nodes].sort((a, b) => b.seqno - a.seqno || Number(b.safeToBootstrap) - Number(a.safeToBootstrap))
  const [chosen] = ranked
  const others = ranked.slice(1).map((n) => `${n.host} ${n.seqno}`).join(', ')
  const tie = ranked.length > 1 && ranked[1].seqno === chosen.seqno
  const reason = !tie
    ? `highest seqno: ${chosen.seqno} (${others})`
    : chosen.safeToBootstrap && !ranked[1].safeToBootstrap
      ? `seqno ${chosen.seqno} like ${ranked.filter((n) => n.seqno === chosen.seqno && n !== chosen).map((n) => n.host).join(', ')}, and its grastate.dat says it left the cluster last (safe_to_bootstrap)`
      : `seqno ${chosen.seqno} like ${ranked.filter((n) => n.seqno === chosen.seqno && n !== chosen).map((n) => n.host).join(', ')}: the first of them in the inventory`
  return {chosen, reason}
}

/** The node's position from InnoDB, with mariadbd --wsrep-recover in a throwaway container on its volume. */
async function wsrepRecover(m: GaleraMember): Promise<{uuid: string; seqno: number}> {
  const image = (await m.host.run(['docker', 'inspect', '-f', '{{.Config.Image}}', GALERA_CONTAINER], {timeoutMs: 30_000})).trim()
  const r = await m.host.exec(
    // The node's own rendered config (galera.cnf.njk), as the mariadb container installs it.
    ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'mariadbd', '-v', `${GALERA_VOLUME}:/var/lib/mysql`,
      '-v', `${configDir(GALERA_CONTAINER)}/osctl.cnf:/etc/mysql/mariadb.conf.d/99-osctl.cnf:ro`, image, '--user=mysql', '--wsrep-recover', '--log-error=/dev/stderr'],
    {timeoutMs: 300_000},
  )
  const m2 = /Recovered position:?\s+([0-9a-f-]{36}):(-?\d+)/.exec(`${r.stderr}\n${r.stdout}`)
  if (!m2) throw new OsctlError('COMMAND_FAILED', `${m.host.name}: mariadbd --wsrep-recover found no position (exit ${r.exitCode}): ${`${r.stderr}`.trim().split('\n').at(-1)}`)
  return {uuid: m2[1], seqno: Number(m2[2])}
}

async function startNode(m: GaleraMember, reporter: Reporter): Promise<void> {
  await m.host.run(['systemctl', 'start', serviceUnitName(GALERA_CONTAINER)], {timeoutMs: 60_000})
  const health = await waitContainerHealthy(m.host, m.docker, GALERA_CONTAINER, HEALTH)
  if (!health.healthy) throw new OsctlError('COMMAND_FAILED', `${m.host.name}: mariadb did not become Synced: ${health.detail}`, {hint: '`osctl service logs mariadb --limit HOST` shows why'})
  reporter.emit('galera.synced', {host: m.host.name, detail: health.detail}, m.host.name)
}

/**
 * After every node went down: stop what is left of mariadb everywhere, read each node's last
 * position, bootstrap a new primary component from the most advanced node, then start the others
 * one at a time (each rejoins by IST or SST and must be Synced before the next). Every node must
 * answer: choosing without one could throw away the newest writes.
 */
export async function recoverGalera(members: GaleraMember[], reporter: Reporter): Promise<RecoverResult> {
  const observed: GaleraNode[] = await Promise.all(members.map((m) => observeGaleraNode(m.host)))
  const up = observed.find((n) => n.primary)
  if (up) {
    return {chosen: null, reason: `the cluster is up: ${up.host} is in a primary component of ${up.clusterSize ?? '?'} (nothing changed)`, nodes: [], rejoined: []}
  }
  await Promise.all(members.map((m) => m.host.run(['systemctl', 'stop', serviceUnitName(GALERA_CONTAINER)], {timeoutMs: 60_000})))
  const nodes = await Promise.all(
    members.map(async (m, i): Promise<RecoverNode> => {
      const g = (await observeGaleraNode(m.host)).grastate ?? observed[i].grastate
      if (g && g.seqno >= 0) return {host: m.host.name, uuid: g.uuid, seqno: g.seqno, safeToBootstrap: g.safeToBootstrap, source: 'grastate'}
      const pos = await wsrepRecover(m)
      reporter.emit('galera.position', {host: m.host.name, ...pos, source: 'wsrep-recover'}, m.host.name)
      return {host: m.host.name, ...pos, safeToBootstrap: g?.safeToBootstrap ?? false, source: 'wsrep-recover'}
    }),
  )
  const {chosen, reason} = chooseBootstrapNode(nodes)
  reporter.emit('galera.bootstrap', {host: chosen.host, reason}, chosen.host)
  const first = members.find((m) => m.host.name === chosen.host)!
  await markNewCluster(first.host)
  try {
    await startNode(first, reporter)
  } catch (err) {
    await clearNewCluster(first.host).catch(() => undefined)
    throw err instanceof OsctlError ? err : new OsctlError('COMMAND_FAILED', errorMessage(err), {cause: err})
  }
  const rejoined: string[] = []
  for (const m of members.filter((x) => x !== first)) {
    await startNode(m, reporter)
    rejoined.push(m.host.name)
  }
  return {chosen: chosen.host, reason, nodes, rejoined}
}
