import {readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {OsctlError, OsctlErrors} from '../errors.js'
import {nearestName} from '../site/nearest-name.js'
import {YamlSource} from '../site/yaml-source.js'
import {zodIssuesToErrors} from '../site/zod-issues.js'
import {HEALTH_FORMS, ServiceFile, serviceDocs, serviceSchema} from './catalog-schema.js'
import {SHARED_TEMPLATES} from './render.js'

export interface ServiceDef extends ServiceFile {
  /** templates/<name>/ (absolute). */
  dir: string
  /** Where each key came from, so later checks can still cite service.yml:line. */
  src: YamlSource
}

export interface Catalog {
  /** In dependency order (a service after everything it depends on), ties by name. */
  services: ServiceDef[]
  get(name: string): ServiceDef | undefined
}

/**
 * Reads every templates/<service>/service.yml, validates each against the schema and the catalog
 * as a whole (dependencies exist and form no cycle, template files exist, container names are
 * unique), and reports every problem at once with file:line.
 */
export async function loadCatalog(templatesDir: string): Promise<Catalog> {
  const errors: OsctlError[] = []
  const defs: ServiceDef[] = []
  for (const entry of (await readdir(templatesDir, {withFileTypes: true})).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = join(templatesDir, entry.name, 'service.yml')
    const src = await YamlSource.read(file, {shared: true})
    if (!src) continue
    const before = errors.length
    errors.push(...src.syntaxErrors())
    if (errors.length > before) continue
    const shape = src.mappingError('name: keystone')
    if (shape) {
      errors.push(shape)
      continue
    }
    errors.push(...src.duplicateKeyErrors())
    // jitless: a schema checks a handful of documents per run; compiling zod's fast path costs more than it saves.
    const parsed = serviceSchema.safeParse(src.doc.toJS(), {reportInput: true, jitless: true})
    if (!parsed.success) {
      errors.push(...zodIssuesToErrors(src, parsed.error.issues, serviceDocs))
      continue
    }
    if (errors.length > before) continue
    const def: ServiceDef = {...parsed.data, dir: join(templatesDir, entry.name), src}
    if (def.name !== entry.name) errors.push(src.error(`name ${def.name} differs from its folder ${entry.name}`, `rename one so both are ${entry.name}`, ['name']))
    errors.push(...(await checkOwnFiles(def)))
    defs.push(def)
  }
  errors.push(...checkAcross(defs))
  if (errors.length > 0) throw new OsctlErrors(errors)
  return catalogOf(defs)
}

/** Builds the ordered catalog; throws on a dependency cycle. Exported for tests with in-memory defs. */
export function catalogOf(defs: ServiceDef[]): Catalog {
  const byName = new Map(defs.map((d) => [d.name, d]))
  const ordered: ServiceDef[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (d: ServiceDef, chain: string[]): void => {
    if (state.get(d.name) === 'done') return
    if (state.get(d.name) === 'visiting') {
      const cycle = [...chain.slice(chain.indexOf(d.name)), d.name].join(' → ')
      throw new OsctlError('CONFIG_INVALID', `dependency cycle: ${cycle}`, {location: d.src.locate(['depends']), hint: 'remove one of these depends entries'})
    }
    state.set(d.name, 'visiting')
    for (const dep of d.depends) {
      const target = byName.get(dep)
      if (target) visit(target, [...chain, d.name])
    }
    state.set(d.name, 'done')
    ordered.push(d)
  }
  for (const d of [...defs].sort((a, b) => a.name.localeCompare(b.name))) visit(d, [])
  return {services: ordered, get: (name) => byName.get(name)}
}

async function checkOwnFiles(def: ServiceDef): Promise<OsctlError[]> {
  const errors: OsctlError[] = []
  const containers = def.containers.map((c) => c.name)
  for (const [ci, c] of def.containers.entries()) {
    const kinds = (['http', 'tcp', 'connected', 'exec'] as const).filter((k) => c.health[k] !== undefined)
    if (!HEALTH_FORMS.some((f) => f.length === kinds.length && f.every((k, i) => kinds[i] === k))) {
      errors.push(def.src.error(`container ${c.name}'s health has ${kinds.length ? kinds.join(' and ') : 'no check'}: it takes one of http, tcp, exec and connected, or tcp or connected with exec`, 'e.g. `health: {http: "http://{{ api_address }}:5000/v3"}` or `health: {tcp: "{{ api_address }}:5672", exec: "rabbitmqctl …"}`', ['containers', ci, 'health']))
    } else if (kinds.length === 1 && c.health.exec === '') {
      errors.push(def.src.error(`container ${c.name}'s health runs an empty command`, 'give exec a command (an empty one is allowed only beside tcp or connected)', ['containers', ci, 'health', 'exec']))
    }
    // Docker repeats a container's check inside it every 30 s (`docker ps`); a connected check is
    // read from the host, so the container needs an in-container one beside it.
    if (c.health.connected !== undefined && !c.monitor) errors.push(def.src.error(`container ${c.name}'s health is a connected check, which osctl reads from the host; Docker needs a check to run in the container`, 'add a monitor, e.g. `monitor: {exec: healthcheck_rabbitmq nova-conductor}`', ['containers', ci, 'health']))
    for (const [fi, f] of c.config.entries()) {
      // The same search path the renderer uses: the service's folder, then templates/_shared.
      const isFile = (p: string) => stat(p).then((s) => s.isFile(), () => false)
      const exists = (await isFile(join(def.dir, f.template))) || (await isFile(join(def.dir, '..', SHARED_TEMPLATES, f.template)))
      if (!exists) errors.push(def.src.error(`template ${f.template} does not exist in ${def.dir} (nor in ${SHARED_TEMPLATES}/)`, 'create it or fix the name', ['containers', ci, 'config', fi, 'template']))
    }
  }
  const stepNames = new Set<string>()
  for (const key of ['bootstrap', 'post_deploy'] as const) {
    for (const [si, s] of def[key].entries()) {
      // Both kinds share the bootstrap/<step>/ manifest dir and the ledger's step keys.
      if (stepNames.has(s.name)) errors.push(def.src.error(`step name ${s.name} is used twice`, 'bootstrap and post_deploy step names are unique within a service', [key, si, 'name']))
      stepNames.add(s.name)
      if (key === 'bootstrap') {
        const b = def.bootstrap[si]
        if ((b.command === undefined) === (b.run === undefined)) errors.push(def.src.error(`bootstrap step ${s.name} needs exactly one of command and run`, 'command: what its one-shot container runs; run: a step osctl carries out itself (keystone-register)', ['bootstrap', si]))
        // What a `run` step does not use must not look as if it mattered.
        if (b.run && b.user !== undefined) errors.push(def.src.error(`bootstrap step ${s.name} runs ${b.run}, which runs as no user`, 'remove user: it is for a command in a one-shot container', ['bootstrap', si, 'user']))
        if (b.run && b.image_paths?.length) errors.push(def.src.error(`bootstrap step ${s.name} runs ${b.run}, which reads nothing of the image`, 'use image_paths: [] (only its environment and its container\'s config count)', ['bootstrap', si, 'image_paths']))
      }
      if (containers.includes(s.container)) continue
      const guess = nearestName(s.container, containers)
      errors.push(def.src.error(`${key === 'bootstrap' ? 'bootstrap' : 'post_deploy'} step ${s.name} names unknown container ${s.container}`, guess ? `did you mean ${guess}?` : `containers of ${def.name}: ${containers.join(', ')}`, [key, si, 'container']))
    }
  }
  return errors
}

function checkAcross(defs: ServiceDef[]): OsctlError[] {
  const errors: OsctlError[] = []
  const names = defs.map((d) => d.name)
  const owner = new Map<string, string>()
  for (const d of defs) {
    for (const [i, dep] of d.depends.entries()) {
      if (names.includes(dep)) continue
      const guess = nearestName(dep, names)
      errors.push(d.src.error(`${d.name} depends on unknown service ${dep}`, guess ? `did you mean ${guess}?` : `services under templates/: ${names.join(', ')}`, ['depends', i]))
    }
    for (const [si, s] of d.bootstrap.entries()) {
      for (const [ni, n] of (s.needs ?? []).entries()) {
        if (!d.depends.includes(n)) errors.push(d.src.error(`bootstrap step ${s.name} needs ${n}, which ${d.name} does not depend on`, `needs lists services of depends: ${d.depends.join(', ') || '(none)'}`, ['bootstrap', si, 'needs', ni]))
      }
    }
    for (const [ni, n] of (d.containers_need ?? []).entries()) {
      if (!d.depends.includes(n)) errors.push(d.src.error(`${d.name}'s containers need ${n}, which ${d.name} does not depend on`, `containers_need lists services of depends: ${d.depends.join(', ') || '(none)'}`, ['containers_need', ni]))
    }
    for (const [i, c] of d.containers.entries()) {
      const other = owner.get(c.name)
      if (other) errors.push(d.src.error(`container name ${c.name} is already used by service ${other}`, 'container names are unique on a host: rename one', ['containers', i, 'name']))
      owner.set(c.name, d.name)
    }
  }
  // post_deploy `after`: container names of any service (all known once every service is read).
  const containers = [...owner.keys()]
  for (const d of defs) {
    for (const [si, s] of d.post_deploy.entries()) {
      for (const [ai, c] of (s.after ?? []).entries()) {
        if (owner.has(c)) continue
        const guess = nearestName(c, containers)
        errors.push(d.src.error(`post_deploy step ${s.name} is triggered by unknown container ${c}`, guess ? `did you mean ${guess}?` : 'after lists container names of services under templates/', ['post_deploy', si, 'after', ai]))
      }
    }
  }
  return errors
}
