import {basename} from 'node:path'
import type nunjucks from 'nunjucks'

import {OsctlError} from '../errors.js'
import {siteImageRef} from '../site/image-ref.js'
import {internalAddress} from '../site/internal-address.js'
import type {Site, SiteHost} from '../site/types.js'
import type {YamlPath} from '../site/yaml-source.js'
import type {ServiceDef} from './catalog.js'
import {clustered} from './group-hosts.js'
import {Overrides} from './overrides.js'
import {renderTemplateString, templateEnvironment} from './template-env.js'

export {fernetKey} from './fernet-key.js'
export {SHARED_TEMPLATES} from './template-env.js'

/** Inside every service container the host's /etc/osctl/<container>/ appears here, read-only. */
export const CONFIG_MOUNT = '/var/lib/osctl/config_files'

export interface RenderedHealth {
  kind: 'http' | 'tcp' | 'exec'
  /** URL, address:port, or a shell command run in the container. */
  target: string
  timeoutSeconds: number
}

export interface RenderedContainer {
  service: string
  name: string
  /** images/<image>/ and its reference in the site registry. */
  image: string
  imageRef: string
  env: Record<string, string>
  volumes: string[]
  health: RenderedHealth
  /** Absent for ordinary containers (most of them), so their spec hash is what it always was. */
  privileges?: ContainerPrivileges
  /** Everything in /etc/osctl/<name>/: config.json (osctl_start's manifest), rendered configs, bootstrap/<step>/config.json. */
  files: Record<string, string>
  /** Override files merged into this container's configs. */
  overrides: string[]
}

/** What a host-managing container gets beyond the default (see catalog-schema.ts cap_add …). */
export interface ContainerPrivileges {
  capAdd?: string[]
  devices?: string[]
  deviceCgroupRules?: string[]
  securityOpt?: string[]
  pid?: 'host'
  cgroupns?: 'host' | 'private'
}

export interface RenderedStep {
  name: string
  container: string
  once: boolean
  env: Record<string, string>
  /** See catalog-schema.ts `image_paths`; absent: the whole image counts. */
  imagePaths?: string[]
  /** post_deploy only: the containers whose creation or start reruns it (catalog-schema.ts `after`). */
  after?: string[]
}

export interface RenderedService {
  service: string
  host: string
  containers: RenderedContainer[]
  steps: RenderedStep[]
  /** post_deploy steps (never `once`: they run on the service's first host only). */
  postSteps?: RenderedStep[]
}

export type TemplateVars = Record<string, unknown>

/** What config templates see; addresses come from the inventory, never from the host itself. */
export function templateVars(site: Site, host: SiteHost): TemplateVars {
  const peers = (group: string) =>
    (site.groups[group] ?? []).map((n) => site.hosts.find((h) => h.name === n)!).map((h) => ({name: h.name, address: h.address}))
  const groups = Object.fromEntries(Object.keys(site.groups).map((g) => [g, peers(g)]))
  const internal = internalAddress(site) ?? host.address
  // With a VIP, haproxy sends SQL to one Galera node at a time (load-balancer.ts). A control host
  // asks its own haproxy on the loopback, so its SQL connections never depend on which host holds
  // the VIP (a VIP that moves leaves connections through the old holder hanging until ARP catches
  // up); without a VIP, the first control host.
  const control = (groups.control as Array<{address: string}> | undefined) ?? []
  const database = site.config.internalVip ? (host.groups.includes('control') ? '127.0.0.1' : site.config.internalVip) : (control[0]?.address ?? host.address)
  // oslo.messaging fails over between every rabbitmq node: one per control host when clustered, else the first's.
  const rabbitHosts = clustered(site) ? control : control.slice(0, 1)
  const rabbit = (rabbitHosts.length > 0 ? rabbitHosts : [{address: host.address}]).map((h) => `openstack:${site.passwords.rabbitmq_password}@${h.address}:5672`)
  return {
    openstack_release: site.config.openstackRelease,
    region_name: 'RegionOne',
    inventory_hostname: host.name,
    api_address: host.address,
    network_address: host.address,
    api_interface: site.config.apiInterface,
    network_interface: site.config.networkInterface,
    internal_address: internal,
    database_address: database,
    // Undefined without a rabbitmq password, so a template using it fails as passwords.rabbitmq_password would.
    transport_url: site.passwords.rabbitmq_password === undefined ? undefined : `rabbit://${rabbit.join(',')}//`,
    // Galera and RabbitMQ clusters across the control hosts (group-hosts.ts: behind a VIP only).
    clustered: clustered(site),
    groups,
    passwords: site.passwords,
    registry: site.config.registry,
    neutron_external_bridge: site.config.neutronExternalBridge,
    // osctl.yml: nova-compute's driver (libvirt|fake) and libvirt's virt_type (auto|kvm|qemu, auto: probed by nova-libvirt).
    nova_compute_driver: site.config.novaComputeDriver,
    nova_virt_type: site.config.novaVirtType,
  }
}

export function imageRefFor(site: Site, image: string): string {
  return siteImageRef(site, image)
}

/**
 * Renders one service for one host: every config template, osctl_start manifests, and the
 * strings of service.yml. Any template error is OsctlError CONFIG_INVALID citing file:line.
 */
export function renderService(def: ServiceDef, site: Site, host: SiteHost, overrides: Overrides): RenderedService {
  const env = templateEnvironment(def.dir)
  const vars = templateVars(site, host)
  const str = (text: string, path: YamlPath) => renderString(env, text, vars, def, path)
  const argv = (cmd: string | string[], path: YamlPath): string[] =>
    typeof cmd === 'string' ? ['sh', '-c', `exec ${str(cmd, path)}`] : cmd.map((a, i) => str(a, [...path, i]))

  const containers = def.containers.map((c, ci): RenderedContainer => {
    const at = (...p: YamlPath) => ['containers', ci, ...p]
    const files: Record<string, string> = {}
    const applied: string[] = []
    const configFiles = c.config.map((f) => {
      const name = f.file ?? basename(f.template).replace(/\.njk$/, '')
      const rendered = renderFile(env, f.template, vars, def)
      const {text, applied: used} = overrides.apply(def.name, host.name, name, rendered)
      files[name] = text
      applied.push(...used)
      return {source: `${CONFIG_MOUNT}/${name}`, dest: f.dest, owner: f.owner, perm: f.perm, optional: false}
    })
    const manifest = {command: argv(c.command, at('command')), config_files: configFiles, permissions: c.permissions, ...(c.user ? {user: c.user} : {})}
    files['config.json'] = json(manifest)
    for (const key of ['bootstrap', 'post_deploy'] as const) {
      for (const [si, s] of def[key].entries()) {
        if (s.container !== c.name) continue
        const user = s.user ?? c.user
        // osctl_start runs bootstrap_command when OSCTL_BOOTSTRAP is set; each step gets its own manifest dir.
        files[`bootstrap/${s.name}/config.json`] = json({...manifest, command: ['true'], bootstrap_command: argv(s.command, [key, si, 'command']), ...(user ? {user} : {})})
      }
    }
    const health = 'http' in c.health
      ? {kind: 'http' as const, target: str(c.health.http, at('health', 'http'))}
      : 'tcp' in c.health
        ? {kind: 'tcp' as const, target: str(c.health.tcp, at('health', 'tcp'))}
        : {kind: 'exec' as const, target: str(c.health.exec, at('health', 'exec'))}
    return {
      service: def.name,
      name: c.name,
      image: c.image,
      imageRef: imageRefFor(site, c.image),
      env: Object.fromEntries(Object.entries(c.environment).map(([k, v]) => [k, str(v, at('environment', k))])),
      volumes: c.volumes.map((v, vi) => str(v, at('volumes', vi))),
      health: {...health, timeoutSeconds: c.health.timeout ?? 120},
      ...privilegesOf(c),
      files,
      overrides: applied,
    }
  })
  const steps = def.bootstrap.map((s, si): RenderedStep => ({
    name: s.name,
    container: s.container,
    once: s.once,
    env: Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, str(v, ['bootstrap', si, 'environment', k])])),
    ...(s.image_paths ? {imagePaths: s.image_paths} : {}),
  }))
  const postSteps = def.post_deploy.map((s, si): RenderedStep => ({
    name: s.name,
    container: s.container,
    once: true,
    env: Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, str(v, ['post_deploy', si, 'environment', k])])),
    ...(s.after ? {after: s.after} : {}),
  }))
  return {service: def.name, host: host.name, containers, steps, ...(postSteps.length > 0 ? {postSteps} : {})}
}

function privilegesOf(c: ServiceDef['containers'][number]): {privileges?: ContainerPrivileges} {
  const p: ContainerPrivileges = {
    ...(c.cap_add.length > 0 ? {capAdd: [...c.cap_add].sort()} : {}),
    ...(c.devices.length > 0 ? {devices: [...c.devices]} : {}),
    ...(c.device_cgroup_rules.length > 0 ? {deviceCgroupRules: [...c.device_cgroup_rules]} : {}),
    ...(c.security_opt.length > 0 ? {securityOpt: [...c.security_opt]} : {}),
    ...(c.pid ? {pid: c.pid} : {}),
    ...(c.cgroupns ? {cgroupns: c.cgroupns} : {}),
  }
  return Object.keys(p).length > 0 ? {privileges: p} : {}
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n'

function renderFile(env: nunjucks.Environment, template: string, vars: TemplateVars, def: ServiceDef): string {
  try {
    return env.render(template, vars)
  } catch (err) {
    throw templateError(err, `${def.dir}/${template}`, 0)
  }
}

function renderString(env: nunjucks.Environment, text: string, vars: TemplateVars, def: ServiceDef, path: YamlPath): string {
  try {
    return renderTemplateString(env, text, vars)
  } catch (err) {
    // The string sits on one line of service.yml: cite that line.
    const loc = def.src.locate(path)
    throw templateError(err, loc.replace(/:\d+$/, ''), -1)
  }
}

/** nunjucks says `(file) [Line 3, Column 7]\n  message`; osctl says `file:3: message`. */
export function templateError(err: unknown, fallbackFile: string, lineOffset: number): OsctlError {
  const msg = (err as Error)?.message ?? String(err)
  const m = /\((.*?)\)\s*(?:\[Line (\d+), Column (\d+)\])?\s*\n?\s*(?:Error: )?([\s\S]*)$/.exec(msg)
  const file = m?.[1] && m[1] !== 'unknown path' ? m[1] : fallbackFile
  let line = m?.[2] ? Number(m[2]) : undefined
  if (lineOffset < 0) {
    // Inline strings: nunjucks counts inside the string; the location already carries the YAML line.
    line = undefined
  }
  const what = (m?.[4] ?? msg).trim().split('\n')[0].replace(/^Template render error:\s*/, '')
  const undefinedValue = /undefined|null/.test(what)
  return new OsctlError('CONFIG_INVALID', `template error: ${what}`, {
    location: line === undefined ? file : `${file}:${line}`,
    hint: undefinedValue
      ? 'a variable the template uses is not defined: check its name (see templateVars in src/catalog/render.ts) or add the password with `osctl genpwd`'
      : 'fix the nunjucks syntax at that line',
    cause: err,
  })
}
