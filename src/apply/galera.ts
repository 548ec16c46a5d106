import {OsctlError} from '../errors.js'
import type {Host} from '../hosts/host.js'

/**
 * MariaDB Galera as osctl runs it: the `mariadb` container on every control host, one `mariadb`
 * volume each. A new cluster is bootstrapped only when osctl says so: it leaves a marker file in
 * the first host's datadir, which the image's osctl-mariadb-start consumes (removes) as it starts
 * mariadbd with --wsrep-new-cluster. Any other start joins the nodes listed in gcomm://, so a
 * host that comes back after a loss rejoins by itself (IST, or SST from a donor).
 */
export const GALERA_CONTAINER = 'mariadb'
export const GALERA_VOLUME = 'mariadb'
export const NEW_CLUSTER_MARKER = 'osctl-new-cluster'

export interface GraState {
  uuid: string
  /** -1: the node did not shut down cleanly (the position is in InnoDB: mariadbd --wsrep-recover). */
  seqno: number
  safeToBootstrap: boolean
}

export interface GaleraNode {
  host: string
  /** The mariadb container answers SQL. */
  running: boolean
  /** wsrep_cluster_status = Primary: part of a cluster that accepts writes. */
  primary: boolean
  /** wsrep_local_state_comment (Synced, Donor/Desynced, Joining …), when running. */
  state?: string
  clusterSize?: number
  /** The datadir's grastate.dat; undefined when the node never ran with Galera. */
  grastate?: GraState
}

const SEP = '--osctl-galera--'

/** One round trip: the datadir's grastate.dat and, if mariadb answers, its wsrep status. */
export async function observeGaleraNode(host: Host): Promise<GaleraNode> {
  const script = [
    `d=$(docker volume inspect -f '{{.Mountpoint}}' ${GALERA_VOLUME} 2>/dev/null) && cat "$d/grastate.dat" 2>/dev/null`,
    `echo ${SEP}`,
    `docker exec ${GALERA_CONTAINER} mariadb -N -B -e "SHOW STATUS WHERE Variable_name IN ('wsrep_cluster_status','wsrep_local_state_comment','wsrep_cluster_size')" 2>/dev/null && echo ${SEP}ok`,
    'true',
  ].join('; ')
  const out = (await host.run(script, {timeoutMs: 30_000})).split(SEP)
  const status = new Map((out[1] ?? '').split('\n').map((l) => l.split('\t')).filter((p) => p.length === 2).map(([k, v]) => [k.trim(), v.trim()]))
  const running = (out[2] ?? '').startsWith('ok')
  return {
    host: host.name,
    running,
    primary: status.get('wsrep_cluster_status') === 'Primary',
    ...(status.has('wsrep_local_state_comment') ? {state: status.get('wsrep_local_state_comment')} : {}),
    ...(status.has('wsrep_cluster_size') ? {clusterSize: Number(status.get('wsrep_cluster_size'))} : {}),
    ...parseGrastate(out[0] ?? ''),
  }
}

export function parseGrastate(text: string): {grastate?: GraState} {
  const uuid = /^uuid:\s*(\S+)/m.exec(text)?.[1]
  const seqno = /^seqno:\s*(-?\d+)/m.exec(text)?.[1]
  if (!uuid || seqno === undefined) return {}
  return {grastate: {uuid, seqno: Number(seqno), safeToBootstrap: /^safe_to_bootstrap:\s*1/m.test(text)}}
}

/** A node's datadir has been part of a Galera cluster (a zero uuid is a node that never joined one). */
const hasClusterData = (n: GaleraNode) => n.grastate !== undefined && !/^0{8}-/.test(n.grastate.uuid)

export type GaleraStart =
  /** Some node is in a primary component: every other node joins it. */
  | {kind: 'join'; primary: string}
  /** No node has ever been part of a cluster: the first host starts a new one (its data, if any, is kept). */
  | {kind: 'new'; on: string}

/**
 * What a deploy of mariadb on these hosts (inventory order, first host first) does, or an error
 * when no node runs and some have cluster data: the cluster went down on every host, and only
 * `osctl mariadb recover` may choose which node's data survives.
 */
export function galeraStart(nodes: GaleraNode[]): GaleraStart {
  const primary = nodes.find((n) => n.primary)
  if (primary) return {kind: 'join', primary: primary.host}
  const withData = nodes.filter(hasClusterData)
  if (withData.length === 0) return {kind: 'new', on: nodes[0].host}
  throw new OsctlError('COMMAND_FAILED', `the galera cluster is down: no mariadb node is in a primary component (nodes with cluster data: ${withData.map((n) => `${n.host} seqno ${n.grastate!.seqno}`).join(', ')})`, {
    hint: 'run `osctl mariadb recover`: it bootstraps the cluster from the most advanced node and rejoins the others; then deploy again',
  })
}

/** Leaves the marker in the host's mariadb volume (created if missing) for its next start. */
export async function markNewCluster(host: Host): Promise<void> {
  await host.run(`docker volume create ${GALERA_VOLUME} >/dev/null && d=$(docker volume inspect -f '{{.Mountpoint}}' ${GALERA_VOLUME}) && date -u +%FT%TZ > "$d/${NEW_CLUSTER_MARKER}"`, {timeoutMs: 30_000})
}

/** Removes a marker mariadbd did not consume (a deploy that failed before the start). */
export async function clearNewCluster(host: Host): Promise<void> {
  await host.exec(`d=$(docker volume inspect -f '{{.Mountpoint}}' ${GALERA_VOLUME} 2>/dev/null) && rm -f "$d/${NEW_CLUSTER_MARKER}"`, {timeoutMs: 30_000})
}

/**
 * Before a deploy changes mariadb on several hosts: observes every node (hosts: all of the
 * service's hosts, inventory order) and, when the cluster is new, marks the first host. Returns
 * what to do once that host has been applied (remove a marker it did not consume).
 */
export async function prepareGalera(hosts: Host[], targets: string[]): Promise<{start: GaleraStart; after: () => Promise<void>}> {
  const observed = await Promise.allSettled(hosts.map((h) => observeGaleraNode(h)))
  const unknown = hosts.filter((_, i) => observed[i].status === 'rejected').map((h) => h.name)
  const nodes = observed.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
  const start = galeraStart(nodes.length > 0 ? nodes : [{host: hosts[0].name, running: false, primary: false}])
  if (start.kind === 'join') return {start, after: async () => {}}
  if (unknown.length > 0 || start.on !== hosts[0].name) {
    throw new OsctlError('HOST_UNREACHABLE', `cannot tell whether a galera cluster exists: ${unknown.join(', ')} did not answer and no reachable node is in a primary component`, {
      hint: 'bring those hosts back (or run `osctl mariadb recover`), then deploy again: a new cluster is only started when every node is known to have none',
    })
  }
  if (!targets.includes(start.on)) {
    throw new OsctlError('USAGE', `a new galera cluster starts on the first control host ${start.on}, which --limit leaves out`, {location: '--limit', hint: `include ${start.on} in --limit`})
  }
  const first = hosts[0]
  await markNewCluster(first)
  return {start, after: () => clearNewCluster(first)}
}
