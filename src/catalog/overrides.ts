import {readdir} from 'node:fs/promises'
import {join, relative, sep} from 'node:path'

import {OsctlError, OsctlErrors} from '../errors.js'
import {OVERRIDE_MAX_BYTES, readTextFile} from '../site/site-file.js'
import {iniProblems, isIniFile, mergeIni} from './ini-merge.js'

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

  /**
   * Reads every file under `dir` once; a missing dir means no overrides. Refuses (every problem
   * at once, exit 2) what could make osctl read outside the site or never finish: symbolic links,
   * devices and pipes, directories deeper than <service>/<host>/, files over the size cap, binary
   * files, and INI overrides with lines that are not INI (file:line).
   */
  static async load(dir: string): Promise<Overrides> {
    const files = new Map<string, {path: string; text: string}>()
    const errors: OsctlError[] = []
    const refuse = (path: string, message: string, hint: string) => errors.push(new OsctlError('CONFIG_INVALID', message, {location: path, hint}))
    const walk = async (d: string, depth: number): Promise<void> => {
      let entries
      try {
        entries = await readdir(d, {withFileTypes: true})
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOENT' && depth === 0) return
        if (code === 'ENOTDIR') return void refuse(d, `${d} is not a directory`, 'overrides/ holds <service>.conf files and <service>/[<host>/]<file> directories')
        return void refuse(d, `cannot read ${d}: ${code === 'EACCES' ? 'permission denied' : (err as Error).message}`, 'check the permissions (osctl needs to read every override)')
      }
      for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(d, e.name)
        if (e.isSymbolicLink()) refuse(path, `${path} is a symbolic link; osctl does not follow links in overrides/`, 'copy the file into overrides/ instead of linking it (a link could point anywhere on this machine)')
        else if (e.isDirectory()) {
          if (depth >= 2) refuse(path, `${path} is nested too deep`, 'overrides are <service>.conf, <service>/<file> or <service>/<host>/<file>')
          else await walk(path, depth + 1)
        } else if (!e.isFile()) refuse(path, `${path} is not a regular file`, 'overrides/ may hold only regular files and directories')
        else {
          try {
            const text = (await readTextFile(path, OVERRIDE_MAX_BYTES)) ?? ''
            if (isIniFile(e.name)) errors.push(...iniProblems(text, path))
            files.set(relative(dir, path).split(sep).join('/'), {path, text})
          } catch (err) {
            errors.push(err as OsctlError)
          }
        }
      }
    }
    await walk(dir, 0)
    if (errors.length > 0) throw new OsctlErrors(errors)
    return new Overrides(dir, files)
  }

  /** Every override file: its path relative to the overrides dir (with /) and its absolute path. */
  entries(): Array<{rel: string; path: string}> {
    return [...this.files].map(([rel, f]) => ({rel, path: f.path}))
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
