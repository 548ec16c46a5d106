import {randomBytes} from 'node:crypto'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import type {Host} from '../../../src/hosts/host.js'

/**
 * What every Host must do, run against FakeHost, LocalHost, SshHost (and later lab hosts), so the
 * fake the unit tests rely on cannot drift from the real adapters. Uses only commands found on any
 * Linux host: sh, printf, cat, sleep, stat, ls.
 */
/** A listener on the host's network for the openTcp contract: what it says first when connected. */
export interface TcpListener {
  address: string
  port: number
  greeting: RegExp
}

export function hostContract(name: string, makeHost: () => Promise<Host>, listener: () => Promise<TcpListener>): void {
  describe(`Host contract: ${name}`, () => {
    let host: Host
    const dir = `/tmp/osctl-contract-${randomBytes(4).toString('hex')}`

    beforeAll(async () => {
      host = await makeHost()
      await host.writeFileAtomic(`${dir}/.keep`, '')
    })
    afterAll(async () => {
      await host?.remove(dir)
      await host?.close()
    })

    async function rejection(p: Promise<unknown>): Promise<OsctlError> {
      const err = await p.then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(OsctlError)
      return err as OsctlError
    }

    describe('openTcp', () => {
      it('opens a connection from the host to a listener on its network; a closed port is an OsctlError naming host, address and port', async () => {
        const {address, port, greeting} = await listener()
        const socket = await host.openTcp(address, port)
        const said = await new Promise<string>((resolve, reject) => {
          let text = ''
          socket.on('data', (d: Buffer) => {
            text += d.toString('utf8')
            if (greeting.test(text)) resolve(text)
          })
          socket.once('error', reject)
          socket.once('end', () => resolve(text))
        })
        socket.destroy()
        expect(said).toMatch(greeting)
        const err = await rejection(host.openTcp('127.0.0.1', 1))
        expect(err.code).toBe('COMMAND_FAILED')
        expect(err.message).toContain(`${host.name}: cannot connect to 127.0.0.1:1 from the host`)
      })
    })

    describe('exec', () => {
      it('returns exit code, stdout and stderr without throwing on failure', async () => {
        const r = await host.exec(['sh', '-c', 'printf out; printf err >&2; exit 3'])
        expect(r).toMatchObject({exitCode: 3, stdout: 'out', stderr: 'err'})
      })

      it('reports the exit status of a burst of concurrent short commands', async () => {
        // Over SSH a fast command's exit-status can arrive with the exec confirmation, and sshd's
        // session limit (10) is briefly exceeded by a burst: neither may lose a result.
        const results = await Promise.all(Array.from({length: 24}, (_, i) => host.exec(['sh', '-c', `exit ${i % 5}`])))
        expect(results.map((r) => r.exitCode)).toEqual(Array.from({length: 24}, (_, i) => i % 5))
      })

      it('passes every argv element through verbatim', async () => {
        const args = ['a b', "it's", '$HOME', '', 'line1\nline2', '*', '"q"', '; rm -rf /']
        const r = await host.exec(['printf', '%s|', ...args])
        expect(r.stdout).toBe(args.map((a) => `${a}|`).join(''))
      })

      it('runs a single string through sh -c', async () => {
        expect((await host.exec('echo "$((1+2))" && echo done')).stdout).toBe('3\ndone\n')
      })

      it('feeds input to stdin', async () => {
        expect((await host.exec(['cat'], {input: 'hello\nwörld\n'})).stdout).toBe('hello\nwörld\n')
        expect((await host.exec(['cat'], {input: Buffer.from('bytes')})).stdout).toBe('bytes')
      })

      it('closes stdin when there is no input', async () => {
        expect(await host.exec(['cat'], {timeoutMs: 10_000})).toMatchObject({exitCode: 0, stdout: ''})
      })

      it('applies env and cwd', async () => {
        const r = await host.exec(['sh', '-c', 'echo "$OSCTL_T:$(pwd)"'], {env: {OSCTL_T: 'a b'}, cwd: dir})
        expect(r.stdout).toBe(`a b:${dir}\n`)
      })

      it('streams stdout and stderr while collecting them', async () => {
        let out = ''
        let err = ''
        const r = await host.exec(['sh', '-c', 'printf o1; printf e1 >&2; printf o2'], {
          onStdout: (c) => (out += c),
          onStderr: (c) => (err += c),
        })
        expect(out).toBe(r.stdout)
        expect(out).toBe('o1o2')
        expect(err).toBe('e1')
      })

      it('kills a command that outlives timeoutMs and names host and command', async () => {
        const start = Date.now()
        const err = await rejection(host.exec(['sleep', '5'], {timeoutMs: 300}))
        expect(Date.now() - start).toBeLessThan(4000)
        expect(err.code).toBe('TIMEOUT')
        expect(err.message).toContain(host.name)
        expect(err.message).toContain('sleep 5')
      })
    })

    describe('run', () => {
      it('returns stdout on success', async () => {
        expect(await host.run(['printf', '%s', 'ok'])).toBe('ok')
      })

      it('throws COMMAND_FAILED with host, command, exit code and the last 20 stderr lines', async () => {
        const script = 'for i in $(seq 1 30); do echo line$i >&2; done; exit 4'
        const err = await rejection(host.run(['sh', '-c', script]))
        expect(err.code).toBe('COMMAND_FAILED')
        expect(err.message).toContain(host.name)
        expect(err.message).toContain('seq 1 30')
        expect(err.message).toContain('exited with 4')
        expect(err.message).toContain('line30')
        expect(err.message).toContain('line11')
        expect(err.message).not.toMatch(/line10\b/)
      })
    })

    describe('files', () => {
      it('writeFileAtomic writes, then reports no change for the same content', async () => {
        const p = `${dir}/a.conf`
        expect(await host.writeFileAtomic(p, 'one\n')).toBe(true)
        expect(await host.writeFileAtomic(p, 'one\n')).toBe(false)
        expect((await host.readFile(p)).toString()).toBe('one\n')
        expect(await host.writeFileAtomic(p, Buffer.from('two\n'))).toBe(true)
        expect((await host.readFile(p)).toString()).toBe('two\n')
      })

      it('applies the mode, rewrites when only the mode differs, and keeps it on later writes', async () => {
        const p = `${dir}/secret`
        expect(await host.writeFileAtomic(p, 's3cret', {mode: 0o600})).toBe(true)
        expect(await host.run(['stat', '-c', '%a', p])).toBe('600\n')
        expect(await host.writeFileAtomic(p, 's3cret', {mode: 0o640})).toBe(true)
        expect(await host.run(['stat', '-c', '%a', p])).toBe('640\n')
        expect(await host.writeFileAtomic(p, 's3cret')).toBe(false)
        expect(await host.writeFileAtomic(p, 'changed')).toBe(true)
        expect(await host.run(['stat', '-c', '%a', p])).toBe('640\n')
      })

      it('writeFiles writes several files whole in one call, each with its mode (0600 without a chmod of its own), parents created, replacing what was there', async () => {
        const files = [
          {path: `${dir}/many/a/secret.conf`, data: 'pass=1\n', mode: 0o600},
          {path: `${dir}/many/b/unit.service`, data: Buffer.from('[Unit]\n'), mode: 0o644},
          {path: `${dir}/many/b/run.sh`, data: '#!/bin/sh\n', mode: 0o755},
          {path: `${dir}/many/empty`, data: '', mode: 0o600},
        ]
        await host.writeFileAtomic(`${dir}/many/a/secret.conf`, 'old\n', {mode: 0o644})
        await host.writeFiles(files)
        for (const f of files) {
          expect((await host.readFile(f.path)).toString(), f.path).toBe(f.data.toString())
          expect(await host.run(['stat', '-c', '%a', f.path]), f.path).toBe(`${f.mode.toString(8)}\n`)
        }
        expect([...(await host.readDir(`${dir}/many/a`)).keys()]).toEqual(['secret.conf'])
        expect([...(await host.readDir(`${dir}/many/b`)).keys()].sort()).toEqual(['run.sh', 'unit.service'])
      })

      it('createFile creates once: concurrent creators, one wins; the file is whole with its mode; nothing else is left', async () => {
        const p = `${dir}/lock/entry.json`
        const wins = await Promise.all(['a', 'b', 'c', 'd'].map((w) => host.createFile(p, `writer ${w}\n`, {mode: 0o600})))
        expect(wins.filter(Boolean)).toHaveLength(1)
        const winner = ['a', 'b', 'c', 'd'][wins.indexOf(true)]
        expect((await host.readFile(p)).toString()).toBe(`writer ${winner}\n`)
        expect(await host.run(['stat', '-c', '%a', p])).toBe('600\n')
        expect(await host.createFile(p, 'later\n')).toBe(false)
        expect((await host.readFile(p)).toString()).toBe(`writer ${winner}\n`)
        expect((await host.run(['ls', '-A', `${dir}/lock`])).split('\n').filter(Boolean)).toEqual(['entry.json'])
        // The directory it had to create is root-only.
        expect(await host.run(['stat', '-c', '%a', `${dir}/lock`])).toBe('700\n')
      })

      it('createFileAndReadDir creates once like createFile and, when it created, returns its whole directory (it included)', async () => {
        const p = `${dir}/locks2/mine.json`
        const first = await host.createFileAndReadDir(p, 'mine\n', {mode: 0o600})
        expect(first.created).toBe(true)
        expect([...first.dir!].map(([n, b]) => `${n}=${b.toString()}`)).toEqual(['mine.json=mine\n'])
        expect(await host.run(['stat', '-c', '%a', p])).toBe('600\n')
        await host.writeFileAtomic(`${dir}/locks2/other.json`, 'other\n')
        const second = await host.createFileAndReadDir(`${dir}/locks2/second.json`, 'second\n')
        expect(second.created).toBe(true)
        expect([...second.dir!].map(([n, b]) => `${n}=${b.toString()}`).sort()).toEqual(['mine.json=mine\n', 'other.json=other\n', 'second.json=second\n'])
        // There already: nothing written, nothing read.
        expect(await host.createFileAndReadDir(p, 'later\n')).toEqual({created: false})
        expect((await host.readFile(p)).toString()).toBe('mine\n')
        const wins = await Promise.all(['a', 'b', 'c'].map((w) => host.createFileAndReadDir(`${dir}/locks2/race.json`, `${w}\n`)))
        expect(wins.filter((w) => w.created)).toHaveLength(1)
      })

      it('creates parent directories and round-trips binary content', async () => {
        const p = `${dir}/x/y/z.bin`
        const data = Buffer.from(Array.from({length: 256}, (_, i) => i))
        await host.writeFileAtomic(p, data)
        expect(Buffer.compare(await host.readFile(p), data)).toBe(0)
      })

      it('readFile of a missing file fails naming host:path; readFileIfExists returns undefined', async () => {
        const p = `${dir}/missing.txt`
        const err = await rejection(host.readFile(p))
        expect(err.message).toContain(`${host.name}:${p}`)
        expect(await host.readFileIfExists(p)).toBeUndefined()
      })

      it('readFiles reads many files in one go: binary, empty, missing and directories kept apart', async () => {
        const bin = Buffer.from(Array.from({length: 256}, (_, i) => i))
        await host.writeFileAtomic(`${dir}/many/a.bin`, bin)
        await host.writeFileAtomic(`${dir}/many/empty`, '')
        await host.writeFileAtomic(`${dir}/many/nl.txt`, '\n2\n-\n')
        const paths = [`${dir}/many/a.bin`, `${dir}/many/missing`, `${dir}/many/empty`, `${dir}/many`, `${dir}/many/nl.txt`]
        const got = await host.readFiles(paths)
        expect([...got.keys()]).toEqual(paths)
        expect(Buffer.compare(got.get(paths[0])!, bin)).toBe(0)
        expect(got.get(paths[1])).toBeUndefined()
        expect(got.get(paths[2])!.length).toBe(0)
        expect(got.get(paths[3])).toBeUndefined()
        expect(got.get(paths[4])!.toString()).toBe('\n2\n-\n')
        expect((await host.readFiles([])).size).toBe(0)
      })

      it('readDir reads every regular file of a directory in one go (name → content); a missing directory is empty', async () => {
        const bin = Buffer.from(Array.from({length: 256}, (_, i) => i))
        await host.writeFileAtomic(`${dir}/d/a.bin`, bin)
        await host.writeFileAtomic(`${dir}/d/.hidden`, 'h\n')
        await host.writeFileAtomic(`${dir}/d/empty`, '')
        await host.writeFileAtomic(`${dir}/d/sub/inner`, 'not listed')
        const got = await host.readDir(`${dir}/d`)
        expect([...got.keys()].sort()).toEqual(['.hidden', 'a.bin', 'empty'])
        expect(Buffer.compare(got.get('a.bin')!, bin)).toBe(0)
        expect(got.get('.hidden')!.toString()).toBe('h\n')
        expect(got.get('empty')!.length).toBe(0)
        expect((await host.readDir(`${dir}/nowhere`)).size).toBe(0)
      })

      it('uploads a 5 MB stream and leaves no temp file behind', async () => {
        const chunks = Array.from({length: 80}, () => randomBytes(64 * 1024))
        const p = `${dir}/up/image.tar`
        await host.upload(p, Readable.from(chunks), {mode: 0o600})
        const back = await host.readFile(p)
        expect(back.length).toBe(5 * 1024 * 1024)
        expect(Buffer.compare(back, Buffer.concat(chunks))).toBe(0)
        expect(await host.run(['stat', '-c', '%a', p])).toBe('600\n')
        expect(await host.run(['ls', '-A', `${dir}/up`])).toBe('image.tar\n')
      })

      it('an upload whose stream fails leaves neither target nor temp file', async () => {
        const p = `${dir}/broken/data.bin`
        await host.writeFileAtomic(`${dir}/broken/.keep`, '')
        const failing = Readable.from((async function* () {
          yield randomBytes(1024)
          throw new Error('source broke')
        })())
        await expect(host.upload(p, failing)).rejects.toThrow()
        expect(await host.exists(p)).toBe(false)
        expect(await host.run(['ls', '-A', `${dir}/broken`])).toBe('.keep\n')
      })

      it('exists and remove handle files, trees and missing paths', async () => {
        await host.writeFileAtomic(`${dir}/tree/a/b.txt`, 'b')
        expect(await host.exists(`${dir}/tree/a/b.txt`)).toBe(true)
        expect(await host.exists(`${dir}/tree`)).toBe(true)
        await host.remove(`${dir}/tree/a/b.txt`)
        expect(await host.exists(`${dir}/tree/a/b.txt`)).toBe(false)
        await host.writeFileAtomic(`${dir}/tree/c.txt`, 'c')
        await host.remove(`${dir}/tree`)
        expect(await host.exists(`${dir}/tree`)).toBe(false)
        await expect(host.remove(`${dir}/never-was`)).resolves.toBeUndefined()
      })
    })
  })
}
