import {readFile, readdir} from 'node:fs/promises'
import {join, relative, sep} from 'node:path'

import {OsctlError} from '../errors.js'
import {isIniFile, mergeIni} from './ini-merge.js'

/**
 * The site's overrides/ directory, kolla's layout, most general first:
 *   overrides/<service>.conf            merged into every <service>.conf of that service, all hosts
 *   overrides/<service>/<file>          merged into <file> of any container of <service>, all hosts
 *   overrides/<service>/<host>/<file>   the same, on one host only
 * INI-like files (.conf .ini .cnf) are merged key by key; other files replace the rendered one.
 */
export class Overrides {
  private constructor(
    readonly dir: string,
    /** Relative path (always with /) → absolute path and text. */
    private readonly files: Map<string, {path: string; text: string}>,
  ) {}

  static empty(dir = '/nonexistent'): Overrides {
    return new Overrides(dir, new Map())
  }

  /** Reads every file under `dir` once; a missing dir means no overrides. */
  static async load(dir: string): Promise<Overrides> {
    const files = new Map<string, {path: string; text: string}>()
    const walk = async (d: string): Promise<void> => {
      let entries
      try {
        entries = await readdir(d, {withFileTypes: true})
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
        throw new OsctlError('CONFIG_INVALID', `cannot read ${d}: ${(err as Error).message}`, {location: d, cause: err})
      }
      for (const e of entries) {
        const path = join(d, e.name)
        if (e.isDirectory()) await walk(path)
        else if (e.isFile()) files.set(relative(dir, path).split(sep).join('/'), {path, text: await readFile(path, 'utf8')})
      }
    }
    await walk(dir)
    return new Overrides(dir, files)
  }

  /** The layers that apply to one rendered file, general to specific. */
  layers(service: string, host: string, file: string): Array<{path: string; text: string}> {
    const keys = [file === `${service}.conf` ? `${service}.conf` : undefined, `${service}/${file}`, `${service}/${host}/${file}`]
    return keys.flatMap((k) => (k && this.files.has(k) ? [this.files.get(k)!] : []))
  }

  /** The rendered text with every applicable layer laid over it. */
  apply(service: string, host: string, file: string, rendered: string): {text: string; applied: string[]} {
    let text = rendered
    const applied: string[] = []
    for (const layer of this.layers(service, host, file)) {
      text = isIniFile(file) ? mergeIni(text, layer.text, layer.path) : layer.text
      applied.push(layer.path)
    }
    return {text, applied}
  }
}
