import {hostname} from 'node:os'
import {describe, expect, it} from 'vitest'

import {silentReporter} from '../../../src/events/reporters.js'
import {LOCK_KEY, acquireSiteLock} from '../../../src/session/site-lock.js'
import {testSite} from '../../fakes/site.js'

/** etcd's v3 JSON gateway, in memory: one key space, leases that delete their keys when revoked or expired. */
function fakeEtcd(opts: {down?: boolean} = {}) {
  const kv = new Map<string, {value: string; lease: string}>()
  const leases = new Set<string>()
  let next = 1
  const calls: string[] = []
  const http = (async (url: string, init: {body: string}) => {
    if (opts.down) throw new Error('connect ECONNREFUSED')
    const path = new URL(url).pathname
    calls.push(path)
    const body = JSON.parse(init.body)
    const json = (o: unknown) => new Response(JSON.stringify(o), {status: 200})
    switch (path) {
      case '/v3/maintenance/status':
        return json({version: '3.4.23'})
      case '/v3/lease/grant': {
        const id = String(next++)
        leases.add(id)
        return json({ID: id, TTL: body.TTL})
      }
      case '/v3/lease/keepalive':
        return json({result: {ID: body.ID, TTL: 15}})
      case '/v3/lease/revoke':
        leases.delete(body.ID)
        for (const [k, v] of kv) if (v.lease === body.ID) kv.delete(k)
        return json({})
      case '/v3/kv/txn': {
        const c = body.compare[0]
        const cur = kv.get(c.key)
        const ok = c.target === 'CREATE' ? cur === undefined : cur?.value === c.value
        const ops = ok ? body.success : (body.failure ?? [])
        const responses = []
        for (const op of ops) {
          if (op.request_put) kv.set(op.request_put.key, {value: op.request_put.value, lease: op.request_put.lease})
          if (op.request_delete_range) kv.delete(op.request_delete_range.key)
          if (op.request_range) responses.push({response_range: {kvs: cur ? [{value: cur.value}] : []}})
        }
        return json({succeeded: ok, responses})
      }
    }
    return new Response('not found', {status: 404})
  }) as unknown as typeof fetch
  const holder = () => {
    const v = kv.get(Buffer.from(LOCK_KEY).toString('base64'))
    return v && JSON.parse(Buffer.from(v.value, 'base64').toString('utf8'))
  }
  return {http, kv, leases, calls, holder}
}

describe('the site lock in etcd', () => {
  it('is held under a lease for the command and released (lease revoked) at the end', async () => {
    const etcd = fakeEtcd()
    const release = await acquireSiteLock(testSite(), 'deploy', silentReporter, {http: etcd.http})
    expect(etcd.holder()).toMatchObject({command: 'deploy', pid: process.pid, machine: hostname()})
    expect(etcd.leases.size).toBe(1)
    await release()
    expect(etcd.holder()).toBeUndefined()
    expect(etcd.leases.size).toBe(0)
  })

  it('a second osctl is refused (SITE_LOCKED, exit 1) naming the holder; it may wait instead and gets it once released', async () => {
    const etcd = fakeEtcd()
    // Held by a live process of another machine.
    const other = {command: 'service upgrade keystone', pid: 4242, machine: 'ops-laptop', user: 'alice', since: '2026-12-03T06:00:00Z'}
    etcd.kv.set(Buffer.from(LOCK_KEY).toString('base64'), {value: Buffer.from(JSON.stringify(other)).toString('base64'), lease: '99'})
    const err = (await acquireSiteLock(testSite(), 'deploy', silentReporter, {http: etcd.http, waitSeconds: 0}).then(() => undefined, (e: unknown) => e)) as {code: string; exitCode: number; message: string}
    expect(err).toMatchObject({code: 'SITE_LOCKED', exitCode: 1})
    expect(err.message).toBe('cannot run `osctl deploy`: `osctl service upgrade keystone` (pid 4242 on ops-laptop, by alice, since 2026-12-03T06:00:00Z) holds the site lock')
    // Its own lease is given back.
    expect(etcd.leases.size).toBe(0)
    const waiting = acquireSiteLock(testSite(), 'deploy', silentReporter, {http: etcd.http, waitSeconds: 10})
    setTimeout(() => etcd.kv.clear(), 1500)
    const release = await waiting
    expect(etcd.holder()).toMatchObject({command: 'deploy'})
    await release()
  })

  it('takes over a lock left by an osctl of this machine that is gone (killed before its lease expired)', async () => {
    const etcd = fakeEtcd()
    const dead = {command: 'deploy', pid: 2 ** 22 + 7, machine: hostname(), user: 'root', since: '2026-12-03T06:00:00Z'}
    etcd.kv.set(Buffer.from(LOCK_KEY).toString('base64'), {value: Buffer.from(JSON.stringify(dead)).toString('base64'), lease: '99'})
    const release = await acquireSiteLock(testSite(), 'deploy', silentReporter, {http: etcd.http})
    expect(etcd.holder()).toMatchObject({pid: process.pid})
    await release()
  })

  it('without any etcd answering (a first bootstrap) there is nothing to lock: the command goes on', async () => {
    const etcd = fakeEtcd({down: true})
    const release = await acquireSiteLock(testSite(), 'bootstrap', silentReporter, {http: etcd.http})
    await release()
    expect(etcd.calls).toEqual([])
  })

  it('etcd answering without quorum (it cannot grant a lease): the command goes on without the lock, and says so', async () => {
    const etcd = fakeEtcd()
    const http = (async (url: string, init: {body: string}) => (url.endsWith('/v3/lease/grant') ? new Response('etcdserver: request timed out', {status: 503}) : etcd.http(url, init as never))) as unknown as typeof fetch
    const events: Array<{code: string; data: {reason?: string}}> = []
    const release = await acquireSiteLock(testSite(), 'deploy', {emit: (code: string, data: {reason?: string}) => void events.push({code, data})} as never, {http})
    await release()
    expect(events.map((e) => e.code)).toEqual(['lock.none'])
    expect(events[0].data.reason).toMatch(/cannot grant a lease .*503.*no quorum/)
    expect(etcd.holder()).toBeUndefined()
  })
})

