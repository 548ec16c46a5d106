import type {EventCode, EventData, Level, OsctlEvent} from './event-types.js'

export type Status = 'start' | 'progress' | 'ok' | 'changed' | 'unchanged' | 'skipped' | 'failed' | 'info'

export interface Described {
  status: Status
  /** What the line is about: an image, a service, a container … */
  subject: string
  text: string
  detail?: string[]
}

type Describers = {[C in EventCode]: (d: EventData[C]) => Described}

const s = (n: number) => `${n.toFixed(1)}s`
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`
const list = (xs: string[]) => xs.join(', ')
const err = (e: {message: string; hint?: string}) => e.message

/** The words for each event: only renderers use them; the core emits codes and data. */
const DESCRIBE: Describers = {
  'image.build.start': (d) => ({status: 'start', subject: d.image, text: d.reason === 'new' ? 'building' : 'building (context changed)'}),
  'image.build.step': (d) => ({status: 'progress', subject: d.image, text: `step ${d.step}/${d.of}: ${d.instruction}`}),
  'image.build.done': (d) => ({status: 'changed', subject: d.image, text: `built in ${s(d.seconds)} (${d.ref}, ${mb(d.bytes)})`}),
  'image.build.unchanged': (d) => ({status: 'unchanged', subject: d.image, text: `unchanged (${d.ref})`}),
  'image.build.reused': (d) => ({status: 'changed', subject: d.image, text: `same content as ${d.from}: tagged ${d.ref}, not rebuilt`}),
  'image.build.skipped': (d) => ({status: 'skipped', subject: d.image, text: `skipped (parent failed: ${d.parent})`}),
  'image.build.failed': (d) => ({status: 'failed', subject: d.image, text: `failed after ${s(d.seconds)}: ${d.error}`, detail: d.logTail}),
  'image.push.start': (d) => ({status: 'start', subject: d.image, text: `pushing to ${d.registry}`}),
  'image.push.done': (d) => ({status: 'ok', subject: d.image, text: `pushed ${d.ref} in ${s(d.seconds)}`}),
  'image.push.failed': (d) => ({status: 'failed', subject: d.image, text: `push to ${d.registry} failed: ${d.error}`}),
  'image.pull.progress': (d) => ({status: 'progress', subject: d.ref, text: d.total > 0 ? `pulling ${mb(d.bytes)} / ${mb(d.total)}` : `pulling ${mb(d.bytes)}`}),
  'image.pull.done': (d) => ({status: 'ok', subject: list(d.refs), text: `pulled on ${d.hosts} host(s)`}),
  'image.pulled': (d) => ({status: 'ok', subject: d.ref, text: `pulled in ${s(d.seconds)}${d.queuedSeconds >= 0.05 ? ` (after ${s(d.queuedSeconds)} in the site's pull queue)` : ''}`}),
  'image.defaults': (d) => ({status: 'info', subject: 'site', text: `${d.site} does not exist: using defaults (registry ${d.registry}, namespace ${d.namespace}, tag ${d.tag}, ${d.distro})`}),
  'image.prune.planned': (d) => ({status: 'info', subject: d.image, text: 'would be removed'}),
  'image.prune.removed': (d) => ({status: 'changed', subject: d.image, text: 'removed'}),
  'image.prune.kept': (d) => ({status: 'skipped', subject: d.image, text: d.reason}),
  'image.prune.failed': (d) => ({status: 'failed', subject: d.image, text: d.error}),
  'rootfs.debootstrap': (d) => ({status: 'start', subject: d.ref, text: `debootstrap ${d.suite} (${d.variant})`}),
  'rootfs.import': (d) => ({status: 'start', subject: d.ref, text: 'importing into Docker'}),
  'rootfs.done': (d) => ({status: 'changed', subject: d.ref, text: 'imported'}),
  'guest.build.start': (d) => ({status: 'start', subject: 'osctl-guest', text: `building from ${d.kernel} and busybox-static (${d.key.slice(0, 12)})`}),
  'guest.build.done': (d) => ({status: 'changed', subject: 'osctl-guest', text: `built in ${s(d.seconds)} (${mb(d.bytes)}, ${d.path})`}),
  'guest.cached': (d) => ({status: 'unchanged', subject: 'osctl-guest', text: `cached (${d.path})`}),
  'lab.image.cached': (d) => ({status: 'unchanged', subject: d.ref, text: 'lab image cached'}),
  'lab.image.build': (d) => ({status: 'start', subject: d.ref, text: 'building lab image'}),
  'lab.image.done': (d) => ({status: 'changed', subject: d.ref, text: 'lab image built'}),
  'lab.network': (d) => ({status: d.created ? 'changed' : 'unchanged', subject: d.network, text: d.subnet}),
  'lab.host.booting': (d) => ({status: 'start', subject: d.container, text: d.created ? `created, booting (${d.address})` : `reused, waiting for boot (${d.address})`}),
  'lab.host.up': (d) => ({status: d.created ? 'changed' : 'ok', subject: d.container, text: `systemd ${d.systemd}, sshd up${d.failedUnits.length ? `; failed units: ${list(d.failedUnits)}` : ''}`}),
  'lab.host.failed': (d) => ({status: 'failed', subject: 'lab host', text: d.message}),
  'lab.site': (d) => ({status: d.written.length ? 'changed' : 'unchanged', subject: d.dir, text: d.written.length ? `wrote ${list(d.written)}` : 'site up to date'}),
  'lab.removed': (d) => ({status: 'changed', subject: d.name, text: 'removed'}),
  'lab.nothing-to-remove': (d) => ({status: 'unchanged', subject: d.lab ? `lab ${d.lab}` : 'labs', text: 'nothing to remove'}),
  'lab.empty': (d) => ({status: 'info', subject: `lab ${d.lab}`, text: 'has no hosts'}),
  'site.passwords': (d) => ({status: d.added ? 'changed' : 'unchanged', subject: d.file, text: `${d.added} ${d.added === 1 ? 'secret' : 'secrets'} added, ${d.kept} kept`}),
  'bootstrap.prechecks': (d) => ({status: 'ok', subject: 'prechecks', text: d.checks.join('; ')}),
  'bootstrap.packages': (d) => ({status: d.installed.length ? 'changed' : 'unchanged', subject: 'host packages', text: d.installed.join(' ') || 'all present'}),
  'bootstrap.system': (d) => ({status: d.changed ? 'changed' : 'unchanged', subject: d.name, text: `revision ${d.revision}`}),
  'bootstrap.docker': (d) => ({status: d.started ? 'changed' : 'unchanged', subject: 'docker', text: d.started ? 'started' : 'running'}),
  'bootstrap.failed': (d) => ({status: 'failed', subject: 'bootstrap', text: err(d.error), detail: d.detail}),
  'system.install.start': (d) => ({status: 'start', subject: d.name, text: `revision ${d.revision}: ${d.ref} into slot ${d.slot}`}),
  'system.healthy': (d) => ({status: 'changed', subject: d.name, text: `revision ${d.revision} healthy (${d.detail})`}),
  'system.rollback.start': (d) => ({status: 'start', subject: d.name, text: `back to revision ${d.revision}${d.slot !== undefined ? ` (slot ${d.slot})` : `: unpacking it from the OCI store into slot ${d.unpackInto}`}`}),
  'system.restored': (d) => ({status: 'changed', subject: d.name, text: `revision ${d.revision} restored (${d.detail})`}),
  'system.pruned': (d) => ({status: 'info', subject: d.name, text: `pruned revision${d.revisions.length > 1 ? 's' : ''} ${d.revisions.join(', ')} (keeping the ${d.keep} before the current one and both slots)`}),
  'system.prune.failed': (d) => ({status: 'info', subject: d.name, text: `old revisions not pruned: ${d.error}`}),
  'lock.none': (d) => ({status: 'info', subject: 'site lock', text: `not taken: ${d.reason}`}),
  'lock.wait': (d) => ({status: 'start', subject: 'site lock', text: `waiting for ${d.holder}`}),
  'lock.taken-over': (d) => ({status: 'info', subject: 'site lock', text: `taken over from ${d.holder}, whose process is gone`}),
  'lock.taken': (d) => ({status: 'info', subject: 'site lock', text: `held (${d.key} in etcd, lease ${d.ttl} s)`}),
  'service.standby': (d) =>
    d.error
      ? {status: 'info', subject: d.container, text: `previous revision not kept as a rollback standby (a rollback loads it again): ${d.error}`}
      : {status: 'info', subject: d.container, text: `previous revision kept running beside it for ${d.seconds}s: \`osctl service rollback ${d.service}\` until then swaps back without loading it`},
  'balancer.state': (d) => ({status: 'info', subject: 'haproxy', text: `${d.frontends.map((f) => `${f}/${d.server}`).join(', ')} ${d.state === 'drain' ? 'drained' : d.health === 'down' ? 'marked down (back once its checks pass)' : 'ready'}${d.left ? `: left drained by ${d.left}, which is gone` : ''}`}),
  'galera.position': (d) => ({status: 'info', subject: 'mariadb', text: `seqno ${d.seqno} (mariadbd --wsrep-recover)`}),
  'galera.bootstrap': (d) => ({status: 'start', subject: 'mariadb', text: `new primary component from this node: ${d.reason}`}),
  'galera.synced': (d) => ({status: 'changed', subject: 'mariadb', text: `Synced (${d.detail})`}),
  'balancer.warm': (d) => ({
    status: 'info',
    subject: 'haproxy',
    text: d.error ? `warm-up of ${d.frontends.map((f) => `${f}/${d.server}`).join(', ')} failed (${d.error}); set ready anyway` : `${d.frontends.map((f) => `${f}/${d.server}`).join(', ')} warmed up: ${d.answers.length} requests in ${(d.ms / 1000).toFixed(1)}s`,
  }),
  'balancer.unreachable': (d) => ({status: 'info', subject: 'haproxy', text: `could not set ${d.frontends.map((f) => `${f}/${d.server}`).join(', ')} ${d.state}: ${d.error}`}),
  'service.skipped': (d) => ({status: 'skipped', subject: d.service, text: d.reason}),
  'service.revision': (d) => ({status: 'start', subject: d.service, text: `revision ${d.revision}${d.previous !== undefined ? ` (was ${d.previous})` : ''}`}),
  'service.container.replace': (d) => ({status: 'start', subject: d.container, text: `${d.exists ? 'recreating' : 'creating'} (${list(d.changed)})`}),
  'service.container.done': (d) => ({
    status: d.status === 'unchanged' ? 'unchanged' : 'changed',
    subject: d.container,
    text: d.status === 'unchanged' ? `unchanged (${d.health})` : `${d.status}${d.changed.length ? ` (${list(d.changed)})` : ''}, revision ${d.revision}, ${d.health}`,
  }),
  'service.step.start': (d) => ({status: 'start', subject: d.service, text: `${d.phase} step ${d.step}`}),
  'service.step.done': (d) => ({status: 'changed', subject: d.service, text: `${d.phase} step ${d.step} done in ${s(d.seconds)}`}),
  'service.interrupted': (d) => ({status: 'info', subject: d.service, text: `osctl${d.pid ? ` (pid ${d.pid}${d.machine ? ` on ${d.machine}` : ''})` : ''} was killed during \`${d.op}\` to revision ${d.revision}; ${d.action === 'undo' ? 'undoing it' : 'completing it'}`}),
  'service.left-alone': (d) => ({status: 'skipped', subject: d.service, text: d.reason}),
  'service.failed': (d) => ({status: 'failed', subject: d.service ?? 'deploy', text: err(d.error), detail: d.detail}),
  'revision.restoring': (d) => ({status: 'start', subject: d.service, text: `restoring revision ${d.revision}${d.leaving !== undefined ? ` (leaving ${d.leaving})` : ''}`}),
  'revision.restored': (d) => ({status: 'changed', subject: d.service, text: `revision ${d.revision} serving again${d.recreated.length ? ` (recreated ${list(d.recreated)})` : ''}`}),
  'db.snapshot': (d) => ({status: 'ok', subject: d.service, text: `databases ${list(d.databases)} saved before revision ${d.revision} (${d.bytes} bytes)`}),
  'db.snapshot.carried': (d) => ({status: 'ok', subject: d.service, text: `databases ${list(d.databases)}: the snapshot taken before the interrupted revision ${d.from} stands for revision ${d.revision}`}),
  'db.restored': (d) => ({status: 'changed', subject: d.service, text: `databases ${list(d.databases)} restored to before revision ${d.revision}`}),
  'upgrade.release': (d) => ({status: 'info', subject: `tag ${d.tag}`, text: d.step === 'same' ? `same release ${d.to} as running` : `${list(d.from)} → ${d.to} (${d.step})`}),
  'upgrade.service.start': (d) => ({status: 'start', subject: d.service, text: `upgrading to ${d.tag} on ${list(d.hosts)}`}),
  'upgrade.service.done': (d) => (d.status === 'already' ? {status: 'unchanged', subject: d.service, text: `already on ${d.tag}`} : {status: 'changed', subject: d.service, text: `upgraded to ${d.tag}`}),
  'db.kept': (d) => ({status: 'unchanged', subject: d.service, text: `databases ${list(d.databases)}: schema unchanged since the snapshot before revision ${d.revision}; left as they are`}),
}

export function describeEvent<C extends EventCode>(e: OsctlEvent<C>): Described {
  return (DESCRIBE[e.code] as (d: EventData[C]) => Described)(e.data)
}

const LEVEL: Partial<Record<Status, Level>> = {progress: 'debug', failed: 'error'}

export function levelOf<C extends EventCode>(code: C, data: EventData[C]): Level {
  const st = (DESCRIBE[code] as (d: EventData[C]) => Described)(data).status
  if (code === 'system.prune.failed' || code === 'image.prune.kept' || code === 'balancer.unreachable') return 'warn'
  if (code === 'balancer.warm' && (data as EventData['balancer.warm']).error) return 'warn'
  return LEVEL[st] ?? 'info'
}
