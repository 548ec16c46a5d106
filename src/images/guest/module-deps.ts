import {OsctlError} from '../../errors.js'

/** A module's name as modprobe sees it: file name without .ko[.xz|.zst|.gz], dashes as underscores. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1)
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_')
}

export interface ModuleEntry {
  /** Path relative to /lib/modules/<version>/, as modules.dep writes it. */
  path: string
  /** Paths of the modules it needs (its direct and indirect dependencies, as depmod lists them). */
  deps: string[]
}

/** Parses modules.dep (`path: dep dep …` per line) into entries by module name. */
export function parseModulesDep(text: string, source = 'modules.dep'): Map<string, ModuleEntry> {
  const out = new Map<string, ModuleEntry>()
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const colon = line.indexOf(':')
    if (colon <= 0) throw new OsctlError('BUILD_FAILED', `${source}:${i + 1}: not a "module: dependencies" line`, {location: `${source}:${i + 1}`})
    const path = line.slice(0, colon).trim()
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean)
    out.set(moduleName(path), {path, deps})
  })
  return out
}

/** modules.builtin: the modules compiled into the kernel (nothing to load). */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim()).filter(Boolean).map(moduleName))
}

export interface ModuleResolution {
  /** Module paths in load order: every module after the modules it needs. */
  load: string[]
  /** Asked-for names that are built into the kernel. */
  builtin: string[]
}

/**
 * The modules to insmod, dependencies first, for the asked-for names. Order comes from each
 * module's own dependency list, walked depth-first, never from the order modules.dep happens to
 * print them in; a cycle (which depmod refuses) or a name the kernel has neither as a module nor
 * built in is an error.
 */
export function resolveModules(wanted: string[], modulesDep: string, modulesBuiltin = ''): ModuleResolution {
  const entries = parseModulesDep(modulesDep)
  const builtinSet = parseModulesBuiltin(modulesBuiltin)
  const byPath = new Map([...entries.values()].map((e) => [e.path, e]))
  const load: string[] = []
  const builtin: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (entry: ModuleEntry, chain: string[]): void => {
    const s = state.get(entry.path)
    if (s === 'done') return
    if (s === 'visiting') {
      throw new OsctlError('BUILD_FAILED', `module dependency cycle: ${[...chain, moduleName(entry.path)].join(' → ')}`)
    }
    state.set(entry.path, 'visiting')
    for (const dep of entry.deps) {
      const d = byPath.get(dep)
      if (!d) throw new OsctlError('BUILD_FAILED', `${moduleName(entry.path)} needs ${dep}, which modules.dep does not list`)
      visit(d, [...chain, moduleName(entry.path)])
    }
    state.set(entry.path, 'done')
    load.push(entry.path)
  }
  for (const raw of wanted) {
    const name = moduleName(raw)
    const entry = entries.get(name)
    if (entry) visit(entry, [])
    else if (builtinSet.has(name)) builtin.push(name)
    else {
      throw new OsctlError('BUILD_FAILED', `kernel module ${raw} is neither a module of this kernel nor built in`, {
        hint: 'check the names in images/guest/modules against the kernel package (modules.dep, modules.builtin)',
      })
    }
  }
  return {load, builtin}
}

/** The names listed in images/guest/modules: one per line, # comments. */
export function parseModuleList(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)
}
