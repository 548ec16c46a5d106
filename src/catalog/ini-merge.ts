import {OsctlError} from '../errors.js'

/**
 * A small INI merger for config overrides (kolla's merge_configs): the operator's file is laid over
 * the rendered one key by key. The base keeps its comments, order and layout; an overridden key is
 * replaced where it stood, a new key goes after the last key of its section, a new section at the
 * end. Keys before any [section] (rabbitmq.conf, sysctl style) form a section of their own.
 * Repeated keys (oslo multi-valued options) are replaced as a group by all of the override's values.
 */
type Entry = {kind: 'raw'; text: string} | {kind: 'key'; key: string; lines: string[]}

interface Section {
  name: string | null
  header?: string
  entries: Entry[]
}

const SECTION = /^\s*\[([^\]]+)\]\s*$/
const COMMENT = /^\s*[#;]/
const BLANK = /^\s*$/
const CONTINUATION = /^[ \t]+\S/
const KEY = /^\s*([^=\s[#;][^=]*?)\s*(?:=.*)?$/

/**
 * Parses INI text. With `file` (an override) an unparsable line is an error citing file:line;
 * without (a rendered base) it is kept verbatim, since the base is ours and may be INI-ish.
 */
export function parseIni(text: string, file?: string): Section[] {
  const sections: Section[] = [{name: null, entries: []}]
  let last: Extract<Entry, {kind: 'key'}> | undefined
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (const [i, line] of lines.entries()) {
    const section = SECTION.exec(line)
    const current = sections.at(-1)!
    if (section) {
      sections.push({name: section[1].trim(), header: line, entries: []})
      last = undefined
    } else if (BLANK.test(line) || COMMENT.test(line)) {
      current.entries.push({kind: 'raw', text: line})
      if (BLANK.test(line)) last = undefined
    } else if (CONTINUATION.test(line) && last) {
      last.lines.push(line)
    } else {
      const key = KEY.exec(line)
      if (key) {
        last = {kind: 'key', key: key[1], lines: [line]}
        current.entries.push(last)
      } else if (file) {
        throw new OsctlError('CONFIG_INVALID', `cannot parse line ${i + 1} of INI override`, {
          location: `${file}:${i + 1}`,
          hint: 'write `[section]` headers and `key = value` lines (comments start with # or ;)',
        })
      } else current.entries.push({kind: 'raw', text: line})
    }
  }
  return sections
}

export function serializeIni(sections: Section[]): string {
  const out: string[] = []
  for (const s of sections) {
    if (s.header !== undefined) out.push(s.header)
    for (const e of s.entries) out.push(...(e.kind === 'raw' ? [e.text] : e.lines))
  }
  return out.length > 0 ? `${out.join('\n')}\n` : ''
}

/** `base` with every key of `override` laid over it; `file` names the override in errors. */
export function mergeIni(base: string, override: string, file = 'override'): string {
  const sections = parseIni(base)
  for (const over of parseIni(override, file)) {
    const keys = over.entries.filter((e): e is Extract<Entry, {kind: 'key'}> => e.kind === 'key')
    if (keys.length === 0) continue
    let target = [...sections].reverse().find((s) => s.name === over.name)
    if (!target) {
      target = {name: over.name, header: `[${over.name}]`, entries: []}
      const prev = sections.at(-1)!
      // A blank line between the old last section and the new one, as a person would write it.
      if (prev.entries.length > 0 && prev.entries.at(-1)!.kind !== 'raw') prev.entries.push({kind: 'raw', text: ''})
      sections.push(target)
    }
    const byKey = new Map<string, string[]>()
    for (const k of keys) byKey.set(k.key, [...(byKey.get(k.key) ?? []), ...k.lines])
    for (const [key, lines] of byKey) setKey(target, key, lines)
  }
  return serializeIni(sections)
}

function setKey(section: Section, key: string, lines: string[]): void {
  const at = section.entries.findIndex((e) => e.kind === 'key' && e.key === key)
  if (at >= 0) {
    section.entries[at] = {kind: 'key', key, lines}
    section.entries = section.entries.filter((e, i) => i <= at || e.kind !== 'key' || e.key !== key)
    return
  }
  // After the last key, so trailing blank lines and comments keep separating the sections.
  let insert = lastIndex(section.entries, (e) => e.kind === 'key') + 1
  if (insert === 0) insert = lastIndex(section.entries, (e) => e.kind === 'raw' && !BLANK.test(e.text)) + 1
  section.entries.splice(insert, 0, {kind: 'key', key, lines})
}

function lastIndex<T>(list: T[], pred: (x: T) => boolean): number {
  for (let i = list.length - 1; i >= 0; i--) if (pred(list[i])) return i
  return -1
}

/**
 * Every line of an INI override that is not INI, at file:line: a line that is neither a
 * `[section]`, a `key = value` (or a bare `key`, as my.cnf has), a comment, a blank line, nor an
 * indented continuation, e.g. `debug: true` or a stray sentence, which a merge would otherwise
 * turn into a key of its own.
 */
export function iniProblems(text: string, file: string): OsctlError[] {
  const errors: OsctlError[] = []
  const lines = text.split('\n')
  let previousKey = false
  for (const [i, line] of lines.entries()) {
    let ok = true
    if (SECTION.test(line)) previousKey = false
    else if (BLANK.test(line)) previousKey = false
    else if (COMMENT.test(line)) ok = true
    else if (CONTINUATION.test(line) && previousKey) ok = true
    else {
      const eq = line.indexOf('=')
      const key = (eq < 0 ? line : line.slice(0, eq)).trim()
      ok = key !== '' && !/[\s[\]]/.test(key) && !/^[#;]/.test(key)
      previousKey = ok
    }
    if (!ok) {
      // The line itself is not echoed: an override may hold a password.
      errors.push(new OsctlError('CONFIG_INVALID', `line ${i + 1} is not an INI line (\`[section]\`, \`key = value\` or a comment)`, {
        location: `${file}:${i + 1}`,
        hint: 'write `[section]` headers and `key = value` lines (comments start with # or ;)',
      }))
      if (errors.length >= 20) break
    }
  }
  return errors
}

/** Files merged key by key; any other file an operator overrides is replaced whole. */
export function isIniFile(name: string): boolean {
  return /\.(conf|ini|cnf)$/.test(name)
}
