import {randomBytes} from 'node:crypto'
import {mkdir, readdir, rename, rm, rmdir, stat} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import {parse, stringify} from 'yaml'

import {OsctlError, OsctlErrors} from '../errors.js'
import {generatePasswords} from '../site/genpwd.js'
import {urlHost} from '../site/internal-address.js'
import {checkSite} from '../site/load-site.js'
import {readTextFile} from '../site/site-file.js'
import {writeFileAtomicLocal} from '../site/write-atomic.js'
import {YamlSource} from '../site/yaml-source.js'
import {parseIniInventory} from './ini-inventory.js'
import {Mapped, Unmapped, mapGlobals} from './map-globals.js'
import {mapInventory} from './map-inventory.js'
import {mapPasswords} from './map-passwords.js'

export interface ImportResult {
  site: string
  files: string[]
  mapped: Mapped[]
  unmapped: Unmapped[]
  /** Secrets osctl needs that kolla did not have (or left empty), generated like `osctl genpwd`. */
  generated: string[]
  /** What `bootstrap`/`deploy` would still refuse (e.g. an SSH key file not on this machine). */
  beforeHosts: Array<{message: string; location?: string; hint?: string}>
}

/**
 * `osctl site import --from-kolla DIR`: globals.yml, passwords.yml and the INI inventory become
 * osctl.yml, inventory.yml and passwords.yml (0600) in OUT. Built in a temp dir beside OUT, the
 * missing secrets generated, checked with the site loader, then renamed into place: OUT appears
 * complete and valid, or not at all. OUT must not exist yet (or be empty).
 */
export async function importKolla(opts: {from: string; out: string; inventory?: string}): Promise<ImportResult> {
  const from = resolve(opts.from)
  const out = resolve(opts.out)
  await refuseExisting(out)
  const globals = await readYaml(join(from, 'globals.yml'), '--from-kolla')
  const secrets = await readYaml(join(from, 'passwords.yml'), '--from-kolla')
  const inventoryFile = resolve(opts.inventory ?? join(from, 'multinode'))
  const iniText = await readTextFile(inventoryFile)
  if (iniText === undefined) {
    throw new OsctlError('CONFIG_MISSING', `${inventoryFile} does not exist`, {location: opts.inventory ? '--inventory' : inventoryFile, hint: 'pass the kolla-ansible multinode inventory with --inventory FILE'})
  }
  const g = mapGlobals(globals)
  const inv = mapInventory(parseIniInventory(inventoryFile, iniText), g.registryHost)
  const p = mapPasswords(secrets)
  const unmapped = [...g.unmapped, ...inv.unmapped, ...p.unmapped]
  const mapped = [...g.mapped, ...inv.mapped, ...p.mapped]
  const config = {...g.config}
  if (!inv.registryOnHost) {
    const port = 4000
    if (typeof config.registry === 'string') {
      const i = mapped.findIndex((m) => m.key === 'docker_registry')
      unmapped.push({location: mapped[i].from, key: 'docker_registry', reason: `not one of the hosts: osctl runs its own registry on the deploy host (${inv.deploy.name})`})
      mapped.splice(i, 1)
    }
    config.registry = `${urlHost(inv.deploy.address)}:${port}`
  }

  const tmp = join(dirname(out), `.${basename(out)}.import-${randomBytes(4).toString('hex')}`)
  await mkdir(tmp, {recursive: false, mode: 0o700})
  try {
    const files = {config: join(tmp, 'osctl.yml'), inventory: join(tmp, 'inventory.yml'), passwords: join(tmp, 'passwords.yml')}
    const header = `# Imported from kolla-ansible (${from}) by \`osctl site import\`.\n`
    await writeFileAtomicLocal(files.config, `${header}# Each key names the globals.yml line it came from.\n${configText(config, mapped)}`, 0o644)
    await writeFileAtomicLocal(files.inventory, `${header}# Inventory: ${inventoryFile}\n${inventoryText(inv.inventory)}`, 0o644)
    await writeFileAtomicLocal(files.passwords, `${header}${Object.keys(p.passwords).length > 0 ? stringify(p.passwords) : ''}`, 0o600)
    const {added} = await generatePasswords(files.passwords)
    const check = await checkSite(tmp)
    if (check.errors.length > 0) throw new OsctlErrors(check.errors.map((e) => new OsctlError(e.code, `the imported site is not valid: ${e.message.replaceAll(tmp, out)}`, {location: e.location?.replace(tmp, out), hint: e.hint})))
    const forHosts = await checkSite(tmp, {forHosts: true})
    if (await isEmptyDir(out)) await rmdir(out)
    await rename(tmp, out)
    return {
      site: out,
      files: Object.values(files).map((f) => join(out, basename(f))),
      mapped,
      unmapped,
      generated: added,
      beforeHosts: forHosts.errors.map((e) => ({message: e.message.replaceAll(tmp, out), location: e.location?.replace(tmp, out), hint: e.hint})),
    }
  } finally {
    await rm(tmp, {recursive: true, force: true})
  }
}

/** osctl.yml with a `# from FILE:LINE key` comment above every key. */
function configText(config: Record<string, unknown>, mapped: Mapped[]): string {
  const order = ['openstack_release', 'base_distro', 'registry', 'namespace', 'image_tag', 'network_interface', 'api_interface', 'nova_virt_type', 'enabled_services']
  const lines: string[] = []
  // Every mapped key is written: those osctl orders first, then any other in the order mapped.
  for (const key of [...order.filter((k) => k in config), ...Object.keys(config).filter((k) => !order.includes(k))]) {
    const from = mapped.filter((m) => m.to === key).map((m) => `${m.from.split('/').at(-1)} ${m.key}`)
    lines.push(from.length > 0 ? `# from ${from.join(', ')}` : '# the deploy host: osctl runs the site registry there')
    const value = config[key]
    lines.push(`${key}: ${Array.isArray(value) ? `[${value.map(scalar).join(', ')}]` : scalar(value)}`)
  }
  return `${lines.join('\n')}\n`
}

/** inventory.yml as an operator writes it: one flow mapping per host, one flow list per group. */
function inventoryText(inv: {defaults?: Record<string, unknown>; hosts: Record<string, Record<string, unknown>>; groups: Record<string, string[]>}): string {
  const flow = (o: Record<string, unknown>) => `{${Object.entries(o).map(([k, v]) => `${k}: ${scalar(v)}`).join(', ')}}`
  const lines: string[] = []
  if (inv.defaults) lines.push('defaults:', ...Object.entries(inv.defaults).map(([k, v]) => `  ${k}: ${scalar(v)}`))
  lines.push('hosts:', ...Object.entries(inv.hosts).map(([name, h]) => `  ${scalar(name)}: ${flow(h)}`))
  lines.push('groups:', ...Object.entries(inv.groups).map(([g, members]) => `  ${g}: [${members.map(scalar).join(', ')}]`))
  return `${lines.join('\n')}\n`
}

/** Plain when YAML reads it back as the same string (in a flow collection too), else double-quoted. */
function scalar(v: unknown): string {
  if (typeof v !== 'string') return String(v)
  return /^[A-Za-z0-9_./-]+$/.test(v) && parse(v) === v ? v : JSON.stringify(v)
}

async function readYaml(file: string, flag: string): Promise<YamlSource> {
  const src = await YamlSource.read(file)
  if (!src) throw new OsctlError('CONFIG_MISSING', `${file} does not exist`, {location: flag, hint: 'point --from-kolla at the kolla config dir (usually /etc/kolla) holding globals.yml and passwords.yml'})
  const problems = src.syntaxErrors()
  if (problems.length === 0 && src.doc.contents !== null) {
    const shape = src.mappingError('key: value')
    if (shape) problems.push(shape)
  }
  if (problems.length > 0) throw new OsctlErrors(problems)
  return src
}

async function refuseExisting(out: string): Promise<void> {
  const st = await stat(out).catch(() => undefined)
  if (!st) return
  if (st.isDirectory() && (await isEmptyDir(out))) return
  throw new OsctlError('USAGE', `${out} already exists`, {location: '--site', hint: 'import into a new directory: an existing site is never overwritten'})
}

async function isEmptyDir(dir: string): Promise<boolean> {
  return readdir(dir).then((e) => e.length === 0, () => false)
}
