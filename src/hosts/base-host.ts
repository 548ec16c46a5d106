import {randomBytes} from 'node:crypto'
import {posix} from 'node:path'
import type {Duplex} from 'node:stream'

import {ExecOptions, ExecResult, FileWrite, Host, WriteOptions, commandFailed, fileMissing} from './host.js'

/** What every Host derives the same way from exec() and readFileIfExists(), written once. */
export abstract class BaseHost implements Host {
  abstract readonly name: string
  abstract readonly address: string
  abstract exec(command: string[] | string, opts?: ExecOptions): Promise<ExecResult>
  abstract readFileIfExists(path: string): Promise<Buffer | undefined>
  abstract writeFileAtomic(path: string, data: string | Buffer, opts?: WriteOptions): Promise<boolean>
  abstract upload(path: string, data: NodeJS.ReadableStream, opts?: WriteOptions): Promise<void>
  abstract exists(path: string): Promise<boolean>
  abstract remove(path: string): Promise<void>
  abstract openTcp(address: string, port: number): Promise<Duplex>
  abstract close(): Promise<void>

  /** Written whole under a temp name, then hard-linked to the path: link(2) fails when the path exists. */
  async createFile(path: string, data: string | Buffer, opts?: WriteOptions): Promise<boolean> {
    await this.run(['sh', '-c', '[ -d "$1" ] || (umask 077 && mkdir -p -- "$1")', 'mkdir', posix.dirname(path)])
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.new`
    await this.writeFileAtomic(tmp, data, opts)
    const r = await this.exec(['sh', '-c', 'ln "$1" "$2" 2>/dev/null; rc=$?; rm -f "$1"; exit $rc', 'create', tmp, path])
    return r.exitCode === 0
  }

  async run(command: string[] | string, opts?: ExecOptions): Promise<string> {
    const r = await this.exec(command, opts)
    if (r.exitCode !== 0) throw commandFailed(this.name, command, r)
    return r.stdout
  }

  /**
   * Hosts where a write is cheap write one file at a time; SshHost batches them into one command.
   * `dirs` are created first (`install -d -m 0700`: root-only, also when they exist).
   */
  async writeFiles(files: FileWrite[], {dirs = []}: {dirs?: string[]} = {}): Promise<void> {
    if (dirs.length > 0) await this.run(['install', '-d', '-m', '0700', ...dirs])
    for (const f of files) await this.writeFileAtomic(f.path, f.data, {mode: f.mode})
  }

  /** Hosts where a read is cheap read one file at a time; SshHost batches them into one command. */
  async readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>> {
    const data = await Promise.all(paths.map((p) => this.readFileIfExists(p)))
    return new Map(paths.map((p, i) => [p, data[i]]))
  }

  /** Two steps here; SshHost does both in one command. */
  async createFileAndReadDir(path: string, data: string | Buffer, opts?: WriteOptions): Promise<{created: boolean; dir?: Map<string, Buffer>}> {
    if (!(await this.createFile(path, data, opts))) return {created: false}
    return {created: true, dir: await this.readDir(posix.dirname(path))}
  }

  /** Listed, then read (two commands); SshHost does both in one. */
  async readDir(dir: string): Promise<Map<string, Buffer>> {
    const r = await this.exec(['sh', '-c', 'ls -1A "$1" 2>/dev/null || true', 'readdir', dir])
    const names = r.stdout.split('\n').filter(Boolean)
    const data = await this.readFiles(names.map((n) => `${dir}/${n}`))
    return new Map(names.flatMap((n) => {
      const b = data.get(`${dir}/${n}`)
      return b === undefined ? [] : [[n, b] as const]
    }))
  }

  async readFile(path: string): Promise<Buffer> {
    const data = await this.readFileIfExists(path)
    if (data === undefined) throw fileMissing(this.name, path)
    return data
  }
}
