import {OsctlError, OsctlErrors} from '../errors.js'

/** A value from the INI file and the line it was written on. */
export interface Located<T = string> {
  value: T
  line: number
}

export interface IniInventory {
  file: string
  /** Host names in the order they first appear. */
  hosts: string[]
  /** Direct members of each group, each with the line it is listed on. */
  members: Map<string, Array<Located>>
  /** `[parent:children]`: child groups, with their lines. */
  children: Map<string, Array<Located>>
  /** Host variables (`name key=value` on a member line), last one wins. */
  hostVars: Map<string, Map<string, Located>>
  /** `[group:vars]` variables, per group (`all` included). */
  groupVars: Map<string, Map<string, Located>>
  /** The line of each group's header (the first one, when a group is declared twice). */
  groupLines: Map<string, number>
}

/**
 * Ansible's INI inventory as kolla-ansible ships it (multinode): `[group]` host lines with
 * `key=value` variables, `[group:children]`, `[group:vars]`, `#`/`;` comments, and host ranges
 * such as `control[01:03]` or `node-[a:c]`. Every value keeps its line for the import report.
 */
export function parseIniInventory(file: string, text: string): IniInventory {
  const inv: IniInventory = {file, hosts: [], members: new Map(), children: new Map(), hostVars: new Map(), groupVars: new Map(), groupLines: new Map()}
  let section: {group: string; kind: 'hosts' | 'children' | 'vars'} = {group: 'ungrouped', kind: 'hosts'}
  const errors: OsctlError[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1
    const body = raw.replace(/^\s+/, '')
    if (body === '' || body.startsWith('#') || body.startsWith(';')) return
    const header = /^\[([^\]:]+)(?::(children|vars))?\]\s*(?:[#;].*)?$/.exec(body.trimEnd())
    if (header) {
      section = {group: header[1].trim(), kind: (header[2] as 'children' | 'vars' | undefined) ?? 'hosts'}
      if (!inv.groupLines.has(section.group)) inv.groupLines.set(section.group, line)
      return
    }
    if (body.startsWith('[')) {
      errors.push(new OsctlError('CONFIG_INVALID', `cannot read section header ${body.trim()}`, {location: `${file}:${line}`, hint: 'sections are `[group]`, `[group:children]` or `[group:vars]`'}))
      return
    }
    const words = splitWords(body)
    if (section.kind === 'vars') {
      const m = /^([^=\s]+)\s*=\s*(.*)$/.exec(body.trim())
      if (!m) errors.push(new OsctlError('CONFIG_INVALID', `[${section.group}:vars] line is not key=value`, {location: `${file}:${line}`, hint: 'write `key=value`'}))
      else mapOf(inv.groupVars, section.group).set(m[1], {value: unquote(m[2]), line})
      return
    }
    if (section.kind === 'children') {
      listOf(inv.children, section.group).push({value: words[0], line})
      return
    }
    const vars = new Map<string, Located>()
    for (const w of words.slice(1)) {
      const eq = w.indexOf('=')
      if (eq <= 0) errors.push(new OsctlError('CONFIG_INVALID', `host variable ${w} is not key=value`, {location: `${file}:${line}`, hint: 'write `host key=value …`'}))
      else vars.set(w.slice(0, eq), {value: unquote(w.slice(eq + 1)), line})
    }
    let names: string[]
    try {
      names = expandRange(words[0])
    } catch (err) {
      errors.push(new OsctlError('CONFIG_INVALID', (err as Error).message, {location: `${file}:${line}`, hint: 'ranges are written `name[01:03]` or `name[a:c]`'}))
      return
    }
    for (const name of names) {
      if (!inv.hosts.includes(name)) inv.hosts.push(name)
      listOf(inv.members, section.group).push({value: name, line})
      for (const [k, v] of vars) mapOf(inv.hostVars, name).set(k, v)
    }
  })
  if (errors.length > 0) throw new OsctlErrors(errors)
  return inv
}

/** Every host of GROUP, its child groups' hosts included (cycles are cut), in first-listed order. */
export function groupHosts(inv: IniInventory, group: string, seen = new Set<string>()): string[] {
  if (seen.has(group)) return []
  seen.add(group)
  if (group === 'all') return [...inv.hosts]
  const out = (inv.members.get(group) ?? []).map((m) => m.value)
  for (const child of inv.children.get(group) ?? []) out.push(...groupHosts(inv, child.value, seen))
  return [...new Set(out)]
}

/** Groups a host is in, directly or through `:children`. */
export function groupsOf(inv: IniInventory, host: string): string[] {
  const names = new Set([...inv.members.keys(), ...inv.children.keys()])
  return [...names].filter((g) => groupHosts(inv, g).includes(host))
}

/**
 * A host's variable as Ansible resolves it: host vars, then its groups' vars (a child group's
 * over its parent's, approximated by file order), then `[all:vars]`.
 */
export function hostVar(inv: IniInventory, host: string, key: string): Located | undefined {
  const own = inv.hostVars.get(host)?.get(key)
  if (own) return own
  const groups = groupsOf(inv, host).filter((g) => inv.groupVars.get(g)?.has(key))
  groups.sort((a, b) => (inv.groupLines.get(b) ?? 0) - (inv.groupLines.get(a) ?? 0))
  return groups.length > 0 ? inv.groupVars.get(groups[0])!.get(key) : inv.groupVars.get('all')?.get(key)
}

function expandRange(pattern: string): string[] {
  const m = /^(.*)\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\](.*)$/i.exec(pattern)
  if (!m) return [pattern]
  const [, head, from, to, stepText, tail] = m
  const step = Number(stepText ?? 1)
  const out: string[] = []
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.startsWith('0') ? from.length : 0
    for (let n = Number(from); n <= Number(to); n += step) out.push(...expandRange(`${head}${String(n).padStart(width, '0')}${tail}`))
  } else if (/^[a-z]$/i.test(from) && /^[a-z]$/i.test(to)) {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c += step) out.push(...expandRange(`${head}${String.fromCharCode(c)}${tail}`))
  } else throw new Error(`cannot expand host range ${pattern}`)
  if (out.length === 0) throw new Error(`host range ${pattern} is empty`)
  return out
}

/** Words split on whitespace, quotes kept together (`ansible_ssh_common_args='-o X'`). */
function splitWords(text: string): string[] {
  const words: string[] = []
  const re = /(?:[^\s'"#]+|'[^']*'|"[^"]*")+/g
  const cut = text.search(/\s[#;]/)
  for (const m of (cut >= 0 ? text.slice(0, cut) : text).matchAll(re)) words.push(m[0])
  return words
}

function unquote(v: string): string {
  const t = v.trim()
  return /^(['"]).*\1$/.test(t) ? t.slice(1, -1) : t
}

function listOf<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key)
  if (!list) map.set(key, (list = []))
  return list
}

function mapOf<K, K2, V>(map: Map<K, Map<K2, V>>, key: K): Map<K2, V> {
  let m = map.get(key)
  if (!m) map.set(key, (m = new Map()))
  return m
}
