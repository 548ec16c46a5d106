import {BindMount} from './definitions.js'
import {LABELS} from '../labels.js'

/** The parts of an OCI runtime spec osctl changes; the rest comes from umoci (the image config). */
export interface OciSpec {
  ociVersion: string
  process: {terminal?: boolean; args?: string[]; env?: string[]; cwd?: string; capabilities?: Record<string, string[]>; [k: string]: unknown}
  root: {path: string; readonly?: boolean}
  hostname?: string
  mounts?: Array<{destination: string; type?: string; source?: string; options?: string[]}>
  annotations?: Record<string, string>
  linux?: {namespaces?: Array<{type: string; path?: string}>; [k: string]: unknown}
  [k: string]: unknown
}

export interface SpecNeeds {
  args: string[]
  env: string[]
  mounts: BindMount[]
  revision: number
  name: string
  /** Added to the default set. */
  capabilities?: string[]
  /** RLIMIT_NOFILE soft and hard. */
  nofile?: number
}

/** Enough to bind, serve, and write its own files; nothing that reaches outside the bundle. */
const CAPABILITIES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETGID', 'CAP_SETUID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE']

/**
 * Turns umoci's generated spec into the one runc runs: host network and hostname (these services
 * serve the host's addresses), no terminal (systemd owns stdio), a read-only rootfs with tmpfs for
 * /run and /tmp, and the service's data dirs bind-mounted from outside the slot.
 */
export function renderSpec(base: OciSpec, needs: SpecNeeds): OciSpec {
  const imageEnv = (base.process.env ?? []).filter((e) => !needs.env.some((n) => n.split('=')[0] === e.split('=')[0]))
  const mounts = (base.mounts ?? []).filter((m) => !['/run', '/tmp'].includes(m.destination))
  mounts.push(
    {destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755']},
    {destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777']},
    {destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro']},
    {destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro']},
  )
  for (const m of needs.mounts) {
    mounts.push({destination: m.destination, type: 'bind', source: m.source, options: ['rbind', m.readonly ? 'ro' : 'rw']})
  }
  const caps = Object.fromEntries(['bounding', 'effective', 'permitted'].map((k) => [k, [...CAPABILITIES, ...(needs.capabilities ?? [])]]))
  const rlimits = needs.nofile ? {rlimits: [...((base.process.rlimits as Array<{type: string}> | undefined) ?? []).filter((r) => r.type !== 'RLIMIT_NOFILE'), {type: 'RLIMIT_NOFILE', hard: needs.nofile, soft: needs.nofile}]} : {}
  const {hostname: _dropped, ...rest} = base
  return {
    ...rest,
    process: {...base.process, terminal: false, args: needs.args, env: [...imageEnv, ...needs.env], capabilities: caps, ...rlimits},
    root: {path: 'rootfs', readonly: true},
    mounts,
    annotations: {...base.annotations, [LABELS.managed]: 'true', [LABELS.system]: needs.name, [LABELS.revision]: String(needs.revision)},
    linux: {
      ...base.linux,
      namespaces: (base.linux?.namespaces ?? []).filter((n) => n.type !== 'network' && n.type !== 'uts'),
    },
  }
}
