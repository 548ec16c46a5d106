import {spawnSync} from 'node:child_process'
import {hostname} from 'node:os'
import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {LOCK_ROOT, lockClaim, takeLock, withLocks} from '../../../src/revisions/host-locks.js'
import {FakeEngine} from '../../fakes/fake-engine.js'
import {labHost} from '../../fakes/fake-lab-host.js'

const deadPid = () => spawnSync('true').pid!
const holder = (kind: string, pid: number) => JSON.stringify({kind, command: kind === 'prune' ? 'prune images' : 'deploy', machine: hostname(), pid, user: 'ops', startedAt: new Date().toISOString()})
const locks = (h: ReturnType<typeof labHost>) => [...h.files.keys()].filter((f) => f.startsWith(`${LOCK_ROOT}/`)).map((f) => f.slice(LOCK_ROOT.length + 1)).sort()
const refusal = async (p: Promise<unknown>) => (await p.then(() => undefined, (e: unknown) => e)) as OsctlError

describe('host locks: image pulls and image prune exclude each other', () => {
  it('a pull refuses while a live osctl prunes, naming it, and leaves no lock of its own', async () => {
    const h = labHost('lab-1', '10.0.0.11', new FakeEngine()).setFile(`${LOCK_ROOT}/prune.json`, holder('prune', process.ppid), 0o600)
    const err = await refusal(takeLock(h, 'pull', 'deploy'))
    expect(err).toBeInstanceOf(OsctlError)
    expect(err.message).toMatch(new RegExp(`lab-1: cannot deploy while \`prune images\` \\(osctl pid ${process.ppid} on ${hostname()}, by ops, since .*\\) is pruning images there`))
    expect(locks(h)).toEqual(['prune.json'])
  })

  it('a prune refuses while a live osctl pulls, and removes its own lock', async () => {
    const h = labHost('lab-1', '10.0.0.11', new FakeEngine()).setFile(`${LOCK_ROOT}/pull-${hostname()}-${process.ppid}.json`, holder('pull', process.ppid), 0o600)
    const err = await refusal(takeLock(h, 'prune', 'prune images'))
    expect(err.message).toMatch(/lab-1: cannot prune images while `deploy` .* is pulling images there/)
    expect(locks(h)).toEqual([`pull-${hostname()}-${process.ppid}.json`])
  })

  it('locks of processes that are gone are stale: a pull ignores them and removes them, a prune takes its file over', async () => {
    const h = labHost('lab-1', '10.0.0.11', new FakeEngine())
      .setFile(`${LOCK_ROOT}/prune.json`, holder('prune', deadPid()), 0o600)
      .setFile(`${LOCK_ROOT}/pull-${hostname()}-1.json`, holder('pull', deadPid()), 0o600)
    const releasePull = await takeLock(h, 'pull', 'deploy')
    // What a killed osctl (or one whose host went down mid-deploy) left holds nothing: it goes.
    expect(locks(h)).toEqual([`pull-${hostname()}-${process.pid}.json`])
    await releasePull()
    expect(locks(h)).toEqual([])
    h.setFile(`${LOCK_ROOT}/prune.json`, holder('prune', deadPid()), 0o600)
    const releasePrune = await takeLock(h, 'prune', 'prune images')
    expect(JSON.parse(h.text(`${LOCK_ROOT}/prune.json`)!).pid).toBe(process.pid)
    await releasePrune()
    expect(locks(h)).toEqual([])
  })

  it('a live holder of the same kind is never removed as stale', async () => {
    const live = `pull-${hostname()}-${process.ppid}.json`
    const h = labHost('lab-1', '10.0.0.11', new FakeEngine()).setFile(`${LOCK_ROOT}/${live}`, holder('pull', process.ppid), 0o600)
    const release = await takeLock(h, 'pull', 'deploy')
    expect(locks(h)).toEqual([live, `pull-${hostname()}-${process.pid}.json`].sort())
    await release()
    expect(locks(h)).toEqual([live])
  })

  it('one process shares its lock between callers (upgrade around deploy): the last release removes it', async () => {
    const h = labHost('lab-1', '10.0.0.11', new FakeEngine())
    const mine = `pull-${hostname()}-${process.pid}.json`
    await withLocks([h], 'pull', 'upgrade', async () => {
      const inner = await takeLock(h, 'pull', 'deploy')
      expect(locks(h)).toEqual([mine])
      await inner()
      expect(locks(h)).toEqual([mine])
    })
    expect(locks(h)).toEqual([])
    expect(h.files.get(`${LOCK_ROOT}/prune.json`)).toBeUndefined()
  })

  it('a lock another exec created (deploy\'s observation) is taken with no command of its own; one it did not create is taken as without it', async () => {
    const h = labHost('lab-1', '10.0.0.11', new FakeEngine())
    const claim = lockClaim('pull', 'deploy')
    const mine = `pull-${hostname()}-${process.pid}.json`
    expect(claim.file).toBe(`${LOCK_ROOT}/${mine}`)
    expect(JSON.parse(claim.data)).toMatchObject({kind: 'pull', command: 'deploy', pid: process.pid, machine: hostname()})
    h.setFile(claim.file, claim.data + '\n', 0o600)
    const release = await takeLock(h, 'pull', 'deploy', {claim, result: Promise.resolve({created: true, dir: new Map([[mine, Buffer.from(claim.data + '\n')]])})})
    expect(h.calls).toEqual([])
    expect(h.ops).toEqual([])
    await release()
    expect(locks(h)).toEqual([])

    // The observation failed (after creating the file, or before): the file, this process's own, is taken as it is.
    h.setFile(claim.file, claim.data + '\n', 0o600)
    const again = await takeLock(h, 'pull', 'deploy', {claim, result: Promise.reject(new Error('connection lost'))})
    expect(locks(h)).toEqual([mine])
    await again()
    const fresh = await takeLock(h, 'pull', 'deploy', {claim, result: Promise.resolve(undefined)})
    expect(locks(h)).toEqual([mine])
    await fresh()
    expect(locks(h)).toEqual([])
  })

  it('a claimed lock still refuses while a live osctl prunes, and lets its file go', async () => {
    const h = labHost('lab-1', '10.0.0.11', new FakeEngine()).setFile(`${LOCK_ROOT}/prune.json`, holder('prune', process.ppid), 0o600)
    const claim = lockClaim('pull', 'deploy')
    h.setFile(claim.file, claim.data + '\n', 0o600)
    const dir = new Map([...h.files].filter(([k]) => k.startsWith(`${LOCK_ROOT}/`)).map(([k, f]) => [k.slice(LOCK_ROOT.length + 1), Buffer.from(f.data)]))
    const err = await refusal(takeLock(h, 'pull', 'deploy', {claim, result: Promise.resolve({created: true, dir})}))
    expect(err.message).toMatch(/lab-1: cannot deploy while `prune images` .* is pruning images there/)
    expect(locks(h)).toEqual(['prune.json'])
  })
})
