import {Alias, Document, LineCounter, Node, Pair, YAMLMap, isMap, isScalar, isSeq, parseDocument, visit} from 'yaml'

import {OsctlError} from '../errors.js'
import {readTextFile} from './site-file.js'

/** yaml's own default; every alias use counts the nodes it expands to. */
const MAX_ALIAS_COUNT = 100

export type YamlPath = ReadonlyArray<string | number>

const sharedSources = new Map<string, YamlSource>()

/**
 * One parsed YAML file that remembers where every node came from, so any problem found later
 * (by zod or by cross-checks) can be reported as `file:line:col` instead of a bare key path.
 */
export class YamlSource {
  readonly lines = new LineCounter()
  readonly doc: Document.Parsed

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    // uniqueKeys is off so we can detect duplicates ourselves and say where the first one was.
    this.doc = parseDocument(text, {lineCounter: this.lines, uniqueKeys: false, prettyErrors: false})
  }

  /**
   * Reads a file; undefined when it does not exist (callers decide whether that is an error).
   * Devices, pipes, files over the size cap and binary files are refused before parsing.
   */
  static async read(file: string, opts: {shared?: boolean} = {}): Promise<YamlSource | undefined> {
    const text = await readTextFile(file)
    return text === undefined ? undefined : opts.shared ? YamlSource.shared(file, text) : new YamlSource(file, text)
  }

  /**
   * One parse per file text per process, for sources nobody edits (templates/<svc>/service.yml,
   * read by the service registry and again by the catalog). A different text is parsed anew.
   */
  static shared(file: string, text: string): YamlSource {
    const known = sharedSources.get(file)
    if (known?.text === text) return known
    const src = new YamlSource(file, text)
    sharedSources.set(file, src)
    return src
  }

  /**
   * The document as plain data, or the errors that stop it: an alias naming no anchor, or
   * aliases that expand beyond yaml's limit (an "alias bomb"), each at its file:line.
   */
  data(): {value?: unknown; errors: OsctlError[]} {
    const aliases: Alias[] = []
    visit(this.doc, {Alias: (_key, node) => void aliases.push(node)})
    const unresolved = aliases.filter((a) => a.resolve(this.doc) === undefined)
    if (unresolved.length > 0) {
      return {
        errors: unresolved.map((a) =>
          this.error(`unknown alias *${a.source}: no anchor &${a.source} before it`, `define \`&${a.source}\` on a value above this line, or write the value out`, a.range?.[0] ?? 0),
        ),
      }
    }
    try {
      return {value: this.doc.toJS({maxAliasCount: MAX_ALIAS_COUNT}), errors: []}
    } catch (err) {
      const at = aliases[0]?.range?.[0] ?? 0
      const bomb = /alias count|resource exhaustion/i.test((err as Error).message)
      const message = bomb ? `YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} nodes through aliases; an alias bomb?)` : `cannot read the YAML: ${(err as Error).message}`
      return {errors: [this.error(message, bomb ? 'write the values out instead of nesting aliases' : 'fix the YAML at that position', at)]}
    }
  }

  /** `file:line:col` for a byte offset. */
  at(offset: number): string {
    const {line, col} = this.lines.linePos(offset)
    return `${this.file}:${line}:${col}`
  }

  error(message: string, hint: string, where: YamlPath | number, opts: {key?: boolean} = {}): OsctlError {
    const location = typeof where === 'number' ? this.at(where) : this.locate(where, opts)
    return new OsctlError('CONFIG_INVALID', message, {location, hint})
  }

  /** Syntax errors as osctl errors; the YAML library's own wording, its position, and a fix hint. */
  syntaxErrors(): OsctlError[] {
    return this.doc.errors.map((e) =>
      this.error(
        `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
        'fix the YAML syntax at that position (check indentation, quotes and brackets)',
        e.pos[0],
      ),
    )
  }

  /**
   * Checks the document is a non-empty mapping. Empty or scalar files are a common accident
   * (wrong file, truncated write), and validating them field by field would only produce noise.
   */
  mappingError(example: string): OsctlError | undefined {
    const root = this.doc.contents
    if (root === null || (isScalar(root) && root.value === null)) {
      return this.error(`${this.file} is empty`, `it must be a mapping of keys to values, e.g. \`${example}\``, 0)
    }
    if (!isMap(root)) {
      const found = isSeq(root) ? 'a list' : 'a single value'
      return this.error(`${this.file} must be a mapping (key: value lines), found ${found}`, `write it as keys and values, e.g. \`${example}\``, root.range?.[0] ?? 0)
    }
    return undefined
  }

  /** Every repeated key in every mapping; `describe` names the key by context (e.g. "host"). */
  duplicateKeyErrors(describe: (parent: YamlPath, key: string) => string = (_p, k) => `key ${k}`): OsctlError[] {
    const errors: OsctlError[] = []
    const visit = (node: unknown, path: YamlPath): void => {
      if (isMap(node)) {
        const seen = new Map<string, number>()
        for (const pair of node.items) {
          if (!isScalar(pair.key)) continue
          const key = String(pair.key.value)
          const offset = pair.key.range?.[0] ?? 0
          const first = seen.get(key)
          if (first === undefined) seen.set(key, offset)
          else {
            const firstLine = this.lines.linePos(first).line
            errors.push(
              this.error(`duplicate ${describe(path, key)} (first defined at line ${firstLine})`, `remove or rename one of the two; YAML would silently keep only the last one`, offset),
            )
          }
          visit(pair.value, [...path, key])
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => visit(item, [...path, i]))
      }
    }
    visit(this.doc.contents, [])
    return errors
  }

  /**
   * Position of the node at `path`. With `key`, the key of the last segment (for unknown or
   * duplicate keys). When the path does not exist (a missing required key), the nearest
   * existing ancestor's key, so "address is required" points at the `lab-1:` line.
   */
  locate(path: YamlPath, opts: {key?: boolean} = {}): string {
    let node: unknown = this.doc.contents
    let keyNode: Node | undefined
    let anchor: Node | undefined = isNode(node) ? node : undefined
    for (const segment of path) {
      let next: {key?: Node; value: unknown} | undefined
      if (isMap(node)) {
        const pair = this.pairOf(node, String(segment))
        if (pair) next = {key: pair.key as Node, value: pair.value}
      } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        next = {value: node.items[segment]}
      }
      if (!next) return this.at(offsetOf(keyNode ?? anchor))
      keyNode = next.key
      node = next.value
      anchor = keyNode ?? (isNode(node) ? node : anchor)
    }
    if (opts.key && keyNode) return this.at(offsetOf(keyNode))
    return this.at(offsetOf(isNode(node) && node.range ? node : (keyNode ?? anchor)))
  }

  private readonly index = new WeakMap<YAMLMap, Map<string, Pair>>()

  /**
   * The pair of `key` in a mapping; the last one wins when a key is repeated, like toJS(). Each
   * mapping is indexed once, so locating every one of 40 000 unknown keys stays linear.
   */
  pairOf(map: YAMLMap, key: string): Pair | undefined {
    let byKey = this.index.get(map)
    if (!byKey) {
      byKey = new Map()
      for (const pair of map.items) if (isScalar(pair.key)) byKey.set(String(pair.key.value), pair as Pair)
      this.index.set(map, byKey)
    }
    return byKey.get(key)
  }

  /** The node at `path`, or undefined (indexed like locate). */
  node(path: YamlPath): unknown {
    let node: unknown = this.doc.contents
    for (const segment of path) {
      if (isMap(node)) node = this.pairOf(node, String(segment))?.value
      else if (isSeq(node) && typeof segment === 'number') node = node.items[segment]
      else return undefined
    }
    return node
  }
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value
}

function offsetOf(node: Node | undefined): number {
  return node?.range?.[0] ?? 0
}
