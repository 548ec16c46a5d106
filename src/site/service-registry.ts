import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {TEMPLATES_DIR} from '../paths.js'
import {SYSTEM_CONTAINERS} from '../system/definitions.js'
import {YamlSource} from './yaml-source.js'

export interface ServiceRegistry {
  /** System containers first, then every templates/<svc>/service.yml service in dependency order. */
  services: string[]
  /** Every key of passwords.yml something needs: service secrets, database passwords, system secrets. */
  secrets: string[]
  /** images/<name> each service's containers run (the image graph adds their parents). */
  images: Map<string, string[]>
  /** Service → the inventory groups it runs on (system containers included). */
  groups: Map<string, string[]>
}

interface Head {
  name: string
  depends: string[]
  secrets: string[]
  passwords: string[]
  images: string[]
  groups: string[]
}

let cached: {dir: string; registry: ServiceRegistry} | undefined

/**
 * What a site may name, read from the one place each service is defined: adding a service is
 * its templates/<svc>/ folder (and its image), nothing else. Only the heads of service.yml are
 * read here (name, depends, secrets, databases, container images); a malformed file is left for
 * the catalog loader (src/catalog/catalog.ts) to report with file:line when a command uses it.
 */
export function serviceRegistry(dir = process.env.OSCTL_TEMPLATES_DIR || TEMPLATES_DIR): ServiceRegistry {
  if (cached?.dir === dir) return cached.registry
  const heads: Head[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    if (!entry.isDirectory() || entry.name.startsWith('_')) continue
    const file = join(dir, entry.name, 'service.yml')
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    // Parsed once for the catalog too (YamlSource.shared); a file YAML refuses is left to it.
    const src = YamlSource.shared(file, text)
    if (src.doc.errors.length > 0 || src.duplicateKeyErrors().length > 0) continue
    const {value, errors} = src.data()
    if (errors.length > 0) continue
    const doc = (value ?? {}) as Record<string, unknown>
    const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])
    const objects = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [])
    heads.push({
      name: typeof doc.name === 'string' ? doc.name : entry.name,
      depends: list(doc.depends),
      secrets: list(doc.secrets),
      passwords: objects(doc.databases).map((d) => d.password).filter((p): p is string => typeof p === 'string'),
      images: objects(doc.containers).map((c) => c.image).filter((i): i is string => typeof i === 'string'),
      groups: typeof doc.group === 'string' ? [doc.group] : list(doc.group),
    })
  }
  const registry: ServiceRegistry = {
    services: [...SYSTEM_CONTAINERS.map((s) => s.name).sort(), ...dependencyOrder(heads).map((h) => h.name)],
    secrets: [...new Set([...SYSTEM_CONTAINERS.flatMap((s) => s.secrets), ...heads.flatMap((h) => [...h.secrets, ...h.passwords])])],
    images: new Map([...SYSTEM_CONTAINERS.map((s): [string, string[]] => [s.name, [s.image]]), ...heads.map((h): [string, string[]] => [h.name, [...new Set(h.images)]])]),
    groups: new Map([...SYSTEM_CONTAINERS.map((s): [string, string[]] => [s.name, [s.group]]), ...heads.flatMap((h): Array<[string, string[]]> => (h.groups.length > 0 ? [[h.name, h.groups]] : []))]),
  }
  cached = {dir, registry}
  return registry
}

/** Kahn's order, ties by name, so the list is stable; a cycle keeps the rest in name order (the catalog reports it). */
function dependencyOrder(heads: Head[]): Head[] {
  const left = new Map(heads.map((h) => [h.name, h]))
  const out: Head[] = []
  while (left.size > 0) {
    const ready = [...left.values()].filter((h) => h.depends.every((d) => !left.has(d))).sort((a, b) => a.name.localeCompare(b.name))
    const next = ready.length > 0 ? ready : [...left.values()].sort((a, b) => a.name.localeCompare(b.name))
    for (const h of next) left.delete(h.name)
    out.push(...next)
  }
  return out
}
