import {readFile} from 'node:fs/promises'
import {Document, LineCounter, Node, isMap, isScalar, isSeq, parseDocument} from 'yaml'

import {OsctlError} from '../errors.js'

export type YamlPath = ReadonlyArray<string | number>

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

  /** Reads a file; undefined when it does not exist (callers decide whether that is an error). */
  static async read(file: string): Promise<YamlSource | undefined> {
    try {
      return new YamlSource(file, await readFile(file, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new OsctlError('CONFIG_INVALID', `cannot read ${file}: ${(err as Error).message}`, {
        location: file,
        hint: 'check the file permissions (osctl needs to read it)',
        cause: err,
      })
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
        // Last match wins, like YAML's own toJS() when a key is repeated.
        for (const pair of node.items) {
          if (isScalar(pair.key) && String(pair.key.value) === String(segment)) next = {key: pair.key, value: pair.value}
        }
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
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value
}

function offsetOf(node: Node | undefined): number {
  return node?.range?.[0] ?? 0
}
