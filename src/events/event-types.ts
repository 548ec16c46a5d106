/**
 * Every event the core emits, by code, with its typed data (aws-cdk toolkit-lib's IoHost idea).
 * The core never writes to the terminal and never composes sentences for it: renderers turn these
 * into a live per-host view, plain lines or NDJSON (render-*.ts), and tests assert on codes and data.
 */
export interface ErrorData {
  code: string
  message: string
  hint?: string
}

type Dbs = {service: string; databases: string[]; revision: number}

export interface EventData {
  // images
  'image.build.start': {image: string; ref: string; reason: 'new' | 'context-changed' | 'derived'}
  'image.build.step': {image: string; step: number; of: number; instruction: string}
  'image.build.done': {image: string; ref: string; seconds: number; bytes: number}
  'image.build.unchanged': {image: string; ref: string}
  'image.build.reused': {image: string; ref: string; from: string}
  'image.build.skipped': {image: string; parent: string}
  'image.build.failed': {image: string; seconds: number; error: string; logTail: string[]}
  'image.push.start': {image: string; registry: string}
  'image.push.done': {image: string; ref: string; seconds: number}
  'image.push.failed': {image: string; registry: string; error: string}
  'image.pull.progress': {ref: string; bytes: number; total: number}
  'image.pull.done': {refs: string[]; hosts: number}
  /** A deploy's download of an image the host lacked, after `queuedSeconds` waiting for a slot (apply/pull-queue.ts). */
  'image.pulled': {ref: string; seconds: number; queuedSeconds: number}
  'image.defaults': {site: string; registry: string; namespace: string; tag: string; distro: string}
  'image.prune.planned': {image: string}
  'image.prune.removed': {image: string}
  'image.prune.kept': {image: string; reason: string}
  'image.prune.failed': {image: string; error: string}
  'rootfs.debootstrap': {ref: string; suite: string; variant: string}
  'rootfs.import': {ref: string}
  'rootfs.done': {ref: string}
  'guest.build.start': {key: string; kernel: string}
  'guest.build.done': {key: string; path: string; seconds: number; bytes: number}
  'guest.cached': {key: string; path: string}
  // lab
  'lab.image.cached': {ref: string}
  'lab.image.build': {ref: string}
  'lab.image.done': {ref: string}
  'lab.network': {network: string; subnet: string; created: boolean}
  'lab.host.booting': {container: string; address: string; created: boolean}
  'lab.host.up': {container: string; systemd: string; failedUnits: string[]; created: boolean}
  'lab.host.failed': {message: string}
  'lab.site': {dir: string; written: string[]}
  'lab.removed': {name: string}
  'lab.nothing-to-remove': {lab?: string}
  'lab.empty': {lab: string}
  // site
  'site.passwords': {file: string; added: number; kept: number}
  // bootstrap
  'bootstrap.prechecks': {checks: string[]}
  'bootstrap.packages': {installed: string[]}
  'bootstrap.system': {name: string; revision: number; changed: boolean}
  'bootstrap.docker': {started: boolean}
  'bootstrap.failed': {error: ErrorData; detail: string[]}
  // system containers
  'system.install.start': {name: string; revision: number; ref: string; slot: number}
  'system.healthy': {name: string; revision: number; detail: string}
  'system.rollback.start': {name: string; revision: number; slot?: number; unpackInto?: number}
  'system.restored': {name: string; revision: number; detail: string}
  'system.pruned': {name: string; revisions: number[]; keep: number}
  'system.prune.failed': {name: string; error: string}
  // deploy: one service on one host
  'service.skipped': {service: string; reason: string}
  'service.revision': {service: string; revision: number; previous?: number}
  'service.container.replace': {service: string; container: string; exists: boolean; changed: string[]}
  'service.container.done': {service: string; container: string; status: 'created' | 'recreated' | 'started' | 'unchanged'; changed: string[]; revision: number; health: string}
  'service.step.start': {service: string; step: string; phase: 'bootstrap' | 'post_deploy'}
  'service.step.done': {service: string; step: string; phase: 'bootstrap' | 'post_deploy'; seconds: number}
  'service.interrupted': {service: string; op: string; revision: number; action: 'complete' | 'undo'; pid?: number; machine?: string}
  'service.left-alone': {service: string; reason: string}
  'service.failed': {service?: string; error: ErrorData; detail: string[]}
  // the site lock in etcd (site-lock.ts)
  'lock.none': {reason: string}
  'lock.wait': {holder: string}
  'lock.taken': {key: string; ttl: number}
  'lock.taken-over': {holder: string}
  /** `service upgrade` kept the previous container running as a rollback standby (container-swap.ts keepStandby). */
  'service.standby': {service: string; container: string; seconds: number; error?: string}
  // haproxy (internal_vip): a backend drained around its container's swap, on each control host
  /** health: 'down' after a stop (Balancer.out): out until haproxy's checks see it answer again. */
  'balancer.state': {server: string; frontends: string[]; state: 'drain' | 'ready'; health?: 'down'; left?: string}
  'balancer.unreachable': {server: string; frontends: string[]; state: 'drain' | 'ready'; health?: 'down'; error: string}
  /** The new container's warm-up before it is set ready: `port status seconds` per request. */
  'balancer.warm': {server: string; frontends: string[]; answers: string[]; ms: number; error?: string}
  'galera.position': {host: string; uuid: string; seqno: number; source: 'wsrep-recover'}
  'galera.bootstrap': {host: string; reason: string}
  'galera.synced': {host: string; detail: string}
  // revisions and databases
  'revision.restoring': {service: string; revision: number; leaving?: number}
  'revision.restored': {service: string; revision: number; recreated: string[]}
  'db.snapshot': Dbs & {bytes: number}
  'db.snapshot.carried': Dbs & {from: number}
  'db.restored': Dbs
  'db.kept': Dbs
  // whole-cloud upgrade (lifecycle/cloud-upgrade.ts)
  'upgrade.release': {tag: string; from: string[]; to: string; step: 'same' | 'next' | 'skip-level'}
  'upgrade.service.start': {service: string; tag: string; hosts: string[]}
  'upgrade.service.done': {service: string; tag: string; status: 'upgraded' | 'already'}
}

export type EventCode = keyof EventData
export type Level = 'debug' | 'info' | 'warn' | 'error'

export interface OsctlEvent<C extends EventCode = EventCode> {
  code: C
  level: Level
  /** The host it happened on, when there is one. */
  host?: string
  data: EventData[C]
  time: string
}

export interface Reporter {
  emit<C extends EventCode>(code: C, data: EventData[C], host?: string): void
}
