import type {Host} from '../hosts/host.js'
import type {SiteHost} from '../site/types.js'
import {SYSTEM_DATA_DIR} from '../system/layout.js'
import {unitName} from '../system/unit.js'
import {EtcdMember, EtcdMembers, initialCluster, memberOf, planJoin} from './etcd-members.js'

const isMember = (members: EtcdMember[], h: SiteHost) => memberOf(members, h)?.started === true

/**
 * Which control hosts of this bootstrap join an etcd cluster that already runs (a control host
 * added to the inventory later): asked of the first other control host whose etcd is active. None
 * when no etcd runs yet (the first bootstrap forms the cluster, every member `new`).
 */
export async function etcdJoiners(control: SiteHost[], targets: SiteHost[], connect: (h: SiteHost) => Host): Promise<{via?: Host; joining: Set<string>}> {
  const candidates = targets.filter((t) => control.some((c) => c.name === t.name))
  if (candidates.length === 0) return {joining: new Set()}
  for (const h of control) {
    const host = connect(h)
    const active = await host.exec(['systemctl', 'is-active', '--quiet', unitName('etcd')]).catch(() => ({exitCode: 1}))
    if (active.exitCode !== 0) continue
    const members = await new EtcdMembers(host).list().catch(() => undefined)
    if (!members || !isMember(members, h)) continue
    return {via: host, joining: new Set(candidates.filter((t) => !isMember(members, t)).map((t) => t.name))}
  }
  return {joining: new Set()}
}

let joins: Promise<unknown> = Promise.resolve()

/**
 * For a joining host: `etcdctl member add` (asked of a started member) right before its etcd
 * starts with `initial-cluster-state=existing`, one host at a time (two members added and not yet
 * started cost a small cluster its quorum). Data left from an earlier membership is moved aside:
 * etcd would start as the removed member. `start` installs and health-gates the new etcd.
 */
export function joinEtcd<T>(via: Host, host: Host, joining: SiteHost, start: (etcdJoin: {initialCluster: string}) => Promise<T>): Promise<T> {
  const run = async () => {
    const members = new EtcdMembers(via)
    const step = planJoin(await members.list(), joining, via.name)
    await host.run(`d=${SYSTEM_DATA_DIR}/etcd; if [ -d "$d/member" ]; then mv "$d" "$d.before-join-$(date -u +%Y%m%dT%H%M%SZ)"; fi`)
    if (step.kind === 'member-add') await members.add(joining.name, joining.address)
    return start({initialCluster: initialCluster(await members.list(), joining)})
  }
  const p = joins.then(run, run)
  joins = p.catch(() => undefined)
  return p
}
