import {basename} from 'node:path'
import type nunjucks from 'nunjucks'

import {OsctlError} from '../errors.js'
import {siteImageRef} from '../site/image-ref.js'
import {type ContainerHealthcheck, DEFAULT_CONTAINER_HEALTHCHECK, type Site, type SiteHost} from '../site/types.js'
import type {YamlPath} from '../site/yaml-source.js'
import type {ServiceDef} from './catalog.js'
import type {BUILTIN_STEPS} from './catalog-schema.js'
import {siteCaConfigFile} from './ca-file.js'
import {type TemplateVars, templateVars} from './template-vars.js'
import {Overrides} from './overrides.js'
import {renderTemplateString, templateEnvironment} from './template-env.js'

export {fernetKey} from './fernet-key.js'
export {SHARED_TEMPLATES} from './template-env.js'

/** Inside every service container the host's /etc/osctl/<container>/ appears here, read-only. */
export const CONFIG_MOUNT = '/var/lib/osctl/config_files'

export interface RenderedHealth {
  kind: 'http' | 'tcp' | 'exec' | 'connected'
  /** URL, address:port, a shell command run in the container, or PROCESS:PORT (catalog-schema.ts). */
  target: string
  timeoutSeconds: number
  /** A check from the host that must hold before the exec runs (catalog-schema.ts: `tcp` or `connected` with `exec`). */
  first?: {kind: 'tcp' | 'connected'; target: string}
}

/** Docker's periodic check: run in the container, so never a connected one. */
export type RenderedMonitor = Omit<RenderedHealth, 'timeoutSeconds' | 'kind'> & {kind: 'http' | 'tcp' | 'exec'}

export interface RenderedContainer {
  service: string
  name: string
  /** images/<image>/ and its reference in the site registry. */
  image: string
  imageRef: string
  env: Record<string, string>
  volumes: string[]
  health: RenderedHealth
  /** Docker's periodic check when it is not the gate (catalog-schema.ts `monitor`); absent for most containers. */
  monitor?: RenderedMonitor
  /** Absent for ordinary containers (most of them), so their spec hash is what it always was. */
  privileges?: ContainerPrivileges
  /** How Docker runs its check, only when osctl.yml changes the default (DEFAULT_CONTAINER_HEALTHCHECK): else the hash stays. */
  dockerCheck?: ContainerHealthcheck
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
  /** catalog-schema.ts `run`: carried out by osctl (env is its input), not in a one-shot container. */
  run?: (typeof BUILTIN_STEPS)[number]
  /** catalog-schema.ts `beside`: runs beside the other steps (and the new containers). */
  beside?: 'steps' | 'containers'
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
  /**
   * The containers of every service this one depends on, directly or not (catalog `depends`): its
   * units start after theirs and, at shutdown, stop before theirs (plan.ts).
   */
  after?: string[]
}

export {templateVars, type TemplateVars} from './template-vars.js'

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
    const environment = Object.fromEntries(Object.entries(c.environment).map(([k, v]) => [k, str(v, at('environment', k))]))
    const stepEnvs = (['bootstrap', 'post_deploy'] as const).flatMap((key) => def[key].flatMap((s, si) => (s.container === c.name ? Object.entries(s.environment).map(([k, v]) => str(v, [key, si, 'environment', k])) : [])))
    const ca = siteCaConfigFile(site, vars, [...Object.values(files), ...Object.values(environment), ...stepEnvs])
    if (ca) {
      files[ca.name] = ca.text
      configFiles.push({source: `${CONFIG_MOUNT}/${ca.name}`, dest: ca.dest, owner: undefined, perm: undefined, optional: false})
    }
    const manifest = {command: argv(c.command, at('command')), config_files: configFiles, permissions: c.permissions, ...(c.user ? {user: c.user} : {})}
    files['config.json'] = json(manifest)
    for (const key of ['bootstrap', 'post_deploy'] as const) {
      for (const [si, s] of def[key].entries()) {
        if (s.container !== c.name || s.command === undefined) continue
        const user = s.user ?? c.user
        // osctl_start runs bootstrap_command when OSCTL_BOOTSTRAP is set; each step gets its own manifest dir.
        files[`bootstrap/${s.name}/config.json`] = json({...manifest, command: ['true'], bootstrap_command: argv(s.command, [key, si, 'command']), ...(user ? {user} : {})})
      }
    }
    const check = (h: {http?: string; tcp?: string; exec?: string}, key: 'health' | 'monitor'): RenderedMonitor =>
      h.http !== undefined ? {kind: 'http', target: str(h.http, at(key, 'http'))} : h.tcp !== undefined ? {kind: 'tcp', target: str(h.tcp, at(key, 'tcp'))} : {kind: 'exec', target: str(h.exec ?? '', at(key, 'exec'))}
    // tcp or connected beside exec (catalog.ts allows no other pair): the host-side check first (RenderedHealth.first); an exec that renders empty is none.
    const h = c.health
    const first: RenderedHealth['first'] =
      h.connected !== undefined ? connectedCheck(str(h.connected, at('health', 'connected')), def, at('health', 'connected'))
      : h.tcp !== undefined && h.exec !== undefined ? {kind: 'tcp', target: str(h.tcp, at('health', 'tcp'))}
      : undefined
    const exec = first && h.exec !== undefined ? str(h.exec, at('health', 'exec')).trim() : ''
    const health: Omit<RenderedHealth, 'timeoutSeconds'> = !first ? check(h, 'health') : exec ? {kind: 'exec', target: exec, first} : first
    return {
      service: def.name,
      name: c.name,
      image: c.image,
      imageRef: imageRefFor(site, c.image),
      env: environment,
      volumes: c.volumes.map((v, vi) => str(v, at('volumes', vi))),
      health: {...health, timeoutSeconds: c.health.timeout ?? 120},
      ...(c.monitor ? {monitor: check(c.monitor, 'monitor')} : {}),
      ...privilegesOf(c),
      ...siteDockerCheck(site.config.containerHealthcheck),
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
    ...(s.run ? {run: s.run} : {}),
    ...(s.beside ? {beside: s.beside} : {}),
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

/** The site's Docker check settings, only when they are not the default (which every container had before they existed). */
function siteDockerCheck(h: ContainerHealthcheck): {dockerCheck?: ContainerHealthcheck} {
  const d = DEFAULT_CONTAINER_HEALTHCHECK
  // Off, the timings mean nothing: changing them then must not recreate every container.
  if (!h.enabled) return {dockerCheck: {...d, enabled: false}}
  const same = (Object.keys(d) as Array<keyof ContainerHealthcheck>).every((k) => h[k] === d[k])
  return same ? {} : {dockerCheck: {...h}}
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

/** A rendered connected check: `PROCESS:PORT`, PROCESS what the process's command line names after `bin/`. */
function connectedCheck(target: string, def: ServiceDef, path: YamlPath): {kind: 'connected'; target: string} {
  const m = /^([\w.@+-]+):([1-9]\d{0,4})$/.exec(target)
  if (!m || Number(m[2]) > 65535) {
    throw def.src.error(`connected check "${target}" is not PROCESS:PORT`, 'e.g. `connected: "nova-conductor:5672"`: a process whose command line contains bin/nova-conductor is connected to port 5672', path)
  }
  return {kind: 'connected', target}
}
