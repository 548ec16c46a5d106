import {setTimeout as sleep} from 'node:timers/promises'

import {OsctlError} from '../errors.js'
import type {Host} from '../hosts/host.js'
import {containerId} from '../system/unit.js'

export interface EtcdMember {
  /** Hex, as etcdctl prints it and `member remove` takes it. */
  id: string
  /** Empty for a member that was added but never started. */
  name: string
  started: boolean
  peerUrls: string[]
}

/** As the etcd system container advertises itself (src/system/definitions.ts). */
export const peerUrl = (address: string) => `http://${address}:2380`

/**
 * etcdctl inside the running etcd system container (runc), against the member on that host: no
 * client on the host and no port opened to the machine running osctl. Simple output, not JSON:
 * etcdctl's JSON prints member ids as numbers beyond what a JavaScript number holds exactly.
 */
export class EtcdMembers {
  constructor(private readonly host: Host) {}

  async list(): Promise<EtcdMember[]> {
    return parseMemberList(await this.etcdctl(['member', 'list', '-w', 'simple']))
  }

  async add(name: string, address: string): Promise<void> {
    await this.reconfigure(['member', 'add', name, `--peer-urls=${peerUrl(address)}`])
  }

  async remove(id: string): Promise<void> {
    await this.reconfigure(['member', 'remove', id])
  }

  /**
   * etcd refuses a membership change while a member it would count on connected less than 5 s
   * ago (`unhealthy cluster`, e.g. right after that host rebooted): asked again for up to 30 s.
   */
  private async reconfigure(args: string[]): Promise<void> {
    for (const deadline = Date.now() + 30_000; ; await sleep(2000)) {
      try {
        await this.etcdctl(args)
        return
      } catch (err) {
        if (!/unhealthy cluster/.test((err as Error).message) || Date.now() > deadline) throw err
      }
    }
  }

  private async etcdctl(args: string[]): Promise<string> {
    const argv = ['runc', 'exec', containerId('etcd'), 'etcdctl', '--endpoints=http://127.0.0.1:2379', '--command-timeout=10s', ...args]
    const r = await this.host.exec(argv, {timeoutMs: 30_000})
    if (r.exitCode !== 0) {
      throw new OsctlError('COMMAND_FAILED', `${this.host.name}: etcdctl ${args.slice(0, 2).join(' ')} failed: ${r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`}`, {
        hint: `check the etcd cluster: \`osctl system status etcd\`, \`journalctl -u osctl-etcd\` on ${this.host.name}`,
      })
    }
    return r.stdout
  }
}

/** `8e9e05c52164694d, started, lab-1, http://10.0.0.1:2380, http://10.0.0.1:2379, false` per line. */
export function parseMemberList(text: string): EtcdMember[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[0-9a-f]+,/.test(l))
    .map((l) => {
      const [id, status, name, peers] = l.split(',').map((f) => f.trim())
      return {id, name, started: status === 'started', peerUrls: peers ? peers.split(' ').filter(Boolean) : []}
    })
}

/** The member a host is, by its name or its peer URL (a member added but never started has no name yet). */
export const memberOf = (members: EtcdMember[], host: {name: string; address: string}) => members.find((m) => m.name === host.name || m.peerUrls.includes(peerUrl(host.address)))

export type EtcdStep = {kind: 'member-remove'; via: string; id: string} | {kind: 'member-add'; via: string} | {kind: 'none'; reason: string}

/**
 * Leaving: the member is removed from the cluster (asked of another member) before its etcd stops,
 * so the cluster never counts a dead member in its quorum. Refused when it is the last member, or
 * when the members left could not make a quorum (an unstarted member counts against it).
 */
export function planLeave(members: EtcdMember[], leaving: {name: string; address: string}, via: string): EtcdStep {
  const me = memberOf(members, leaving)
  if (!me) return {kind: 'none', reason: `${leaving.name} is not an etcd member`}
  const rest = members.filter((m) => m !== me)
  if (rest.length === 0) throw new OsctlError('USAGE', `${leaving.name} is the last etcd member`, {location: 'NAME', hint: 'a site keeps at least one control host'})
  const started = rest.filter((m) => m.started).length
  if (started <= rest.length / 2) {
    throw new OsctlError('COMMAND_FAILED', `removing ${leaving.name} would leave etcd without a quorum: ${started} of ${rest.length} remaining members started`, {
      hint: 'start (bootstrap) the members that never started, or remove them first',
    })
  }
  return {kind: 'member-remove', via, id: me.id}
}

/**
 * Joining: the member is added (asked of a started member) right before its etcd starts with
 * `initial-cluster-state=existing`. Refused while another added member has not started: two
 * unstarted members in a small cluster cost it its quorum.
 */
export function planJoin(members: EtcdMember[], joining: {name: string; address: string}, via: string): EtcdStep {
  const me = memberOf(members, joining)
  if (me) return {kind: 'none', reason: me.started ? `${joining.name} is already a started member` : `${joining.name} was added, waiting for its etcd to start`}
  const pending = members.filter((m) => !m.started)
  if (pending.length > 0) {
    throw new OsctlError('COMMAND_FAILED', `etcd member ${pending.map((m) => m.peerUrls.join(' ')).join(', ')} was added but never started`, {
      hint: 'bootstrap that host first (or remove it), then add the next control host',
    })
  }
  return {kind: 'member-add', via}
}

/** ETCD_INITIAL_CLUSTER for a joining member: every member as the cluster knows it, and itself. */
export function initialCluster(members: EtcdMember[], joining: {name: string; address: string}): string {
  const others = members.filter((m) => m.name && m.name !== joining.name).map((m) => `${m.name}=${m.peerUrls[0]}`)
  return [...others, `${joining.name}=${peerUrl(joining.address)}`].join(',')
}
