import {createHash} from 'node:crypto'
import {execa} from 'execa'
import {mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {WRITE_MANY_SCRIPT} from '../../../src/hosts/remote-scripts.js'

// SshHost.writeFiles' host side, run for real in /bin/sh.
describe('WRITE_MANY_SCRIPT', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-write-many-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const run = (files: Array<[string, string, string]>, stdin: Buffer = Buffer.concat(files.map(([, , d]) => Buffer.from(d))), dirs: string[] = []) => {
    const all = Buffer.concat(files.map(([, , d]) => Buffer.from(d)))
    const args = [createHash('sha256').update(all).digest('hex'), String(dirs.length), ...dirs.map((d) => join(dir, d)), ...files.flatMap(([p, mode, d]) => [join(dir, p), mode, String(Buffer.byteLength(d))])]
    return execa('/bin/sh', ['-c', WRITE_MANY_SCRIPT, 'osctl', ...args], {input: stdin, reject: false})
  }

  it('writes every file whole with its mode, creating parents, empty and multibyte files included, replacing what was there', async () => {
    await writeFile(join(dir, 'old.json'), 'old content that is longer')
    const r = await run([
      ['a/b/keystone.conf', '600', '[DEFAULT]\nnaïve ✓\n'],
      ['a/empty', '644', ''],
      ['units/x.service', '644', '[Unit]\n'],
      ['old.json', '600', '{}\n'],
    ])
    expect(r.exitCode, String(r.stderr)).toBe(0)
    expect(await readFile(join(dir, 'a/b/keystone.conf'), 'utf8')).toBe('[DEFAULT]\nnaïve ✓\n')
    expect(await readFile(join(dir, 'a/empty'), 'utf8')).toBe('')
    expect(await readFile(join(dir, 'units/x.service'), 'utf8')).toBe('[Unit]\n')
    expect(await readFile(join(dir, 'old.json'), 'utf8')).toBe('{}\n')
    expect(((await stat(join(dir, 'a/b/keystone.conf'))).mode & 0o777).toString(8)).toBe('600')
    expect(((await stat(join(dir, 'a/empty'))).mode & 0o777).toString(8)).toBe('644')
    for (const d of ['', 'a', 'a/b', 'units']) expect((await readdir(join(dir, d))).filter((f) => f.startsWith('.osctl-new')), d).toEqual([])
  })

  it('the last file is renamed only once all the others were (a record says the rest is there)', async () => {
    // The first target is a directory: its rename fails, and the record in the same directory stays as it was.
    await (await import('node:fs/promises')).mkdir(join(dir, 'backups/dump.sql'), {recursive: true})
    await writeFile(join(dir, 'backups/meta.json'), 'old\n')
    const r = await run([['backups/dump.sql', '600', 'dump\n'], ['backups/other', '600', 'x\n'], ['backups/meta.json', '600', 'new\n']])
    expect(r.exitCode).not.toBe(0)
    expect(await readFile(join(dir, 'backups/meta.json'), 'utf8')).toBe('old\n')
    expect((await readdir(join(dir, 'backups'))).filter((f) => f.startsWith('.osctl-new'))).toEqual([])
  })

  it('refuses a relative path or one with a newline before touching anything', async () => {
    for (const bad of ['relative/x', `${dir}/a\n${dir}/b`]) {
      const data = 'x\n'
      const args = [createHash('sha256').update(data).digest('hex'), '0', bad, '600', '2']
      const r = await execa('/bin/sh', ['-c', WRITE_MANY_SCRIPT, 'osctl', ...args], {input: data, reject: false})
      expect(r.exitCode, bad).toBe(2)
      expect(r.stderr).toContain('not an absolute one-line path')
    }
    expect(await readdir(dir)).toEqual([])
  })

  it('few processes on the host: one mv per directory, no chmod for a 0600 file, parents made as the umask says', async () => {
    const shim = join(dir, 'shim')
    await (await import('node:fs/promises')).mkdir(shim)
    for (const tool of ['mv', 'chmod', 'dd', 'mkdir']) {
      await writeFile(join(shim, tool), `#!/bin/sh\necho ${tool} >> ${join(dir, 'calls')}\nexec /bin/${tool} "$@"\n`, {mode: 0o755})
    }
    const files: Array<[string, string, string]> = [
      ['etc/nova-api/nova.conf', '600', 'a\n'],
      ['etc/nova-api/api-paste.ini', '600', 'b\n'],
      ['etc/nova-api/run.sh', '755', 'c\n'],
      ['etc/nova-conductor/nova.conf', '600', 'd\n'],
      ['etc/nova-conductor/config.json', '600', 'e\n'],
    ]
    const all = Buffer.concat(files.map(([, , d]) => Buffer.from(d)))
    const args = [createHash('sha256').update(all).digest('hex'), '0', ...files.flatMap(([p, mode, d]) => [join(dir, p), mode, String(Buffer.byteLength(d))])]
    const r = await execa('/bin/sh', ['-c', `umask 022; ${WRITE_MANY_SCRIPT}`, 'osctl', ...args], {input: all, reject: false, env: {PATH: `${shim}:/usr/bin:/bin`}})
    expect(r.exitCode, String(r.stderr)).toBe(0)
    for (const [p, , d] of files) expect(await readFile(join(dir, p), 'utf8'), p).toBe(d)
    const calls = (await readFile(join(dir, 'calls'), 'utf8')).split('\n').filter(Boolean)
    // nova-api's three, nova-conductor's first, then the last file alone.
    expect(calls.filter((c) => c === 'mv')).toHaveLength(3)
    expect(calls.filter((c) => c === 'chmod')).toHaveLength(1)
    expect(calls.filter((c) => c === 'mkdir')).toHaveLength(2)
    expect(((await stat(join(dir, 'etc/nova-api'))).mode & 0o777).toString(8)).toBe('755')
    expect(((await stat(join(dir, 'etc/nova-api/run.sh'))).mode & 0o777).toString(8)).toBe('755')
    for (const d of ['etc/nova-api', 'etc/nova-conductor']) expect((await readdir(join(dir, d))).filter((f) => f.startsWith('.osctl-new')), d).toEqual([])
  })

  it('creates the directories given first, root-only, and makes existing ones root-only (names with spaces too)', async () => {
    await (await import('node:fs/promises')).mkdir(join(dir, 'open'), {mode: 0o755})
    const r = await run([['conf dir/keystone.conf', '600', 'x\n']], undefined, ['conf dir', 'open', 'empty/rev 1'])
    expect(r.exitCode, String(r.stderr)).toBe(0)
    for (const d of ['conf dir', 'open', 'empty/rev 1']) expect(((await stat(join(dir, d))).mode & 0o777).toString(8), d).toBe('700')
    expect(await readFile(join(dir, 'conf dir/keystone.conf'), 'utf8')).toBe('x\n')
    // Directories alone: nothing else written.
    const only = await run([], Buffer.alloc(0), ['later'])
    expect(only.exitCode, String(only.stderr)).toBe(0)
    expect(((await stat(join(dir, 'later'))).mode & 0o777).toString(8)).toBe('700')
  })

  it('a stream cut short renames nothing into place and leaves no temp file', async () => {
    await writeFile(join(dir, 'kept'), 'before')
    const files: Array<[string, string, string]> = [['new', '600', 'abcdef'], ['kept', '600', 'after!']]
    const r = await run(files, Buffer.from('abcdefaft'))
    expect(r.exitCode).not.toBe(0)
    expect(await readFile(join(dir, 'kept'), 'utf8')).toBe('before')
    expect((await readdir(dir)).sort()).toEqual(['kept'])
  })
})
