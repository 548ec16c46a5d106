import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {
  KnownHostsFile, checkHostKey, entryMatchesHost, fingerprint, hostKeyName, keyTypeOf, parseKnownHosts,
} from '../../../src/hosts/known-hosts.js'

// Real keys; the hashed lines and fingerprints come from `ssh-keygen -H` and `ssh-keygen -l`.
const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIL0bixM73OvVt+kCbU8Y41oVjyYc0xKIiEQiFbpUoup7'
const EC = 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHYUhJXqwMEn8nh5/2YuWTviNjTfQpwaFBWkTexOWujTzlf9fo2e09QSjGnmiVToWs/Fy85//f/0gK9PEhJEbsI='
const ED_BLOB = Buffer.from(ED, 'base64')
const EC_BLOB = Buffer.from(EC, 'base64')
const HASHED = [
  `|1|qsJArSr2et/aVwBJ7NxqUiyJA+0=|8ckTTKYOeo4/zTGVtSKmh8nHnfQ= ssh-ed25519 ${ED}`, // lab-1.example
  `|1|mIfNZxiSnsEHWiUVSKuMJqYfl6c=|MjvI6+4AV62zb8KPe21Cugou7Ok= ecdsa-sha2-nistp256 ${EC}`, // [10.0.0.3]:2222
].join('\n')

describe('parseKnownHosts', () => {
  it('parses plain, [host]:port, markers and comments, keeping 1-based line numbers', () => {
    const text = [
      '# a comment',
      '',
      `lab-1,10.0.0.2 ssh-ed25519 ${ED} root@lab-1`,
      `[10.0.0.3]:2222 ecdsa-sha2-nistp256 ${EC}`,
      `@revoked bad.example ssh-ed25519 ${ED}`,
      `@cert-authority *.example ssh-ed25519 ${ED}`,
      '@bogus x ssh-ed25519 AAAA',
      'truncated-line ssh-ed25519',
      '   # indented comment',
    ].join('\n')
    const entries = parseKnownHosts(text)
    expect(entries.map((e) => e.line)).toEqual([3, 4, 5, 6])
    expect(entries[0]).toMatchObject({patterns: ['lab-1', '10.0.0.2'], keyType: 'ssh-ed25519', key: ED, comment: 'root@lab-1'})
    expect(entries[1]).toMatchObject({patterns: ['[10.0.0.3]:2222'], keyType: 'ecdsa-sha2-nistp256'})
    expect(entries[2].marker).toBe('@revoked')
    expect(entries[3].marker).toBe('@cert-authority')
  })

  it('matches hashed entries via HMAC-SHA1, including [host]:port names', () => {
    const [a, b] = parseKnownHosts(HASHED)
    expect(a.hashed).toBeDefined()
    expect(entryMatchesHost(a, 'lab-1.example', 22)).toBe(true)
    expect(entryMatchesHost(a, 'lab-2.example', 22)).toBe(false)
    expect(entryMatchesHost(b, '10.0.0.3', 2222)).toBe(true)
    expect(entryMatchesHost(b, '10.0.0.3', 22)).toBe(false)
  })

  it('matches wildcards and honours negation', () => {
    const [e] = parseKnownHosts(`*.lab.example,!db.lab.example ssh-ed25519 ${ED}`)
    expect(entryMatchesHost(e, 'web.lab.example', 22)).toBe(true)
    expect(entryMatchesHost(e, 'db.lab.example', 22)).toBe(false)
    expect(entryMatchesHost(e, 'web.lab.example', 2222)).toBe(false)
  })
})

describe('checkHostKey', () => {
  const entries = parseKnownHosts([
    `lab-1 ssh-ed25519 ${ED}`,
    `lab-1 ecdsa-sha2-nistp256 ${EC}`,
    `[lab-2]:2222 ssh-ed25519 ${ED}`,
    `lab-3 ecdsa-sha2-nistp256 ${EC}`,
    `@revoked lab-4 ssh-ed25519 ${ED}`,
  ].join('\n'))

  it('match: any recorded key of the presented type and value', () => {
    expect(checkHostKey(entries, 'lab-1', 22, ED_BLOB)).toMatchObject({status: 'match', entry: {line: 1}})
    expect(checkHostKey(entries, 'lab-1', 22, EC_BLOB)).toMatchObject({status: 'match', entry: {line: 2}})
    expect(checkHostKey(entries, 'lab-2', 2222, ED_BLOB).status).toBe('match')
  })

  it('mismatch: same key type, different key, reporting the contradicting line', () => {
    const other = parseKnownHosts(`[lab-2]:2222 ssh-ed25519 ${Buffer.concat([ED_BLOB.subarray(0, -1), Buffer.from([0])]).toString('base64')}`)
    expect(checkHostKey(other, 'lab-2', 2222, ED_BLOB)).toMatchObject({status: 'mismatch', entry: {line: 1}})
  })

  it('a revoked key is a mismatch even with no other entry', () => {
    expect(checkHostKey(entries, 'lab-4', 22, ED_BLOB)).toMatchObject({status: 'mismatch', revoked: true, entry: {line: 5}})
  })

  it('unknown: no entry, another port, or only keys of other types', () => {
    expect(checkHostKey(entries, 'lab-9', 22, ED_BLOB).status).toBe('unknown')
    expect(checkHostKey(entries, 'lab-2', 22, ED_BLOB).status).toBe('unknown')
    expect(checkHostKey(entries, 'lab-3', 22, ED_BLOB).status).toBe('unknown')
  })

  it('works on hashed files', () => {
    const hashed = parseKnownHosts(HASHED)
    expect(checkHostKey(hashed, 'lab-1.example', 22, ED_BLOB).status).toBe('match')
    expect(checkHostKey(hashed, '10.0.0.3', 2222, EC_BLOB).status).toBe('match')
  })
})

describe('key helpers', () => {
  it('names hosts like OpenSSH and prints ssh-keygen fingerprints', () => {
    expect(hostKeyName('10.0.0.3', 22)).toBe('10.0.0.3')
    expect(hostKeyName('10.0.0.3', 2222)).toBe('[10.0.0.3]:2222')
    expect(keyTypeOf(ED_BLOB)).toBe('ssh-ed25519')
    expect(fingerprint(ED_BLOB)).toBe('SHA256:1ZurN0TYiA6ZGpSM1iJHaDQPifZF1QQY02fQIOovD1o')
    expect(fingerprint(EC_BLOB)).toBe('SHA256:UcAIaxiDgaVtAN0QvdZgv3ltUP6zrZGd/qGIQbVUc4c')
  })
})

describe('KnownHostsFile', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  it('appends unknown keys once, even from many parallel callers, and creates missing dirs', async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-known-hosts-'))
    const file = new KnownHostsFile(join(dir, 'sub', 'known_hosts'))
    const results = await Promise.all(Array.from({length: 10}, () => file.addIfUnknown('10.0.0.3', 2222, ED_BLOB)))
    expect(results.every((r) => r.status === 'match')).toBe(true)
    expect(await readFile(file.path, 'utf8')).toBe(`[10.0.0.3]:2222 ssh-ed25519 ${ED}\n`)
  })

  it('adds a newline before appending to a file that lacks one, and never overrides a rival key', async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-known-hosts-'))
    const path = join(dir, 'known_hosts')
    await writeFile(path, `lab-1 ecdsa-sha2-nistp256 ${EC}`)
    const file = new KnownHostsFile(path)
    expect((await file.addIfUnknown('lab-2', 22, ED_BLOB)).status).toBe('match')
    expect((await readFile(path, 'utf8')).split('\n')).toEqual([`lab-1 ecdsa-sha2-nistp256 ${EC}`, `lab-2 ssh-ed25519 ${ED}`, ''])
    const rival = Buffer.concat([ED_BLOB.subarray(0, -1), Buffer.from([1])])
    expect(await file.addIfUnknown('lab-2', 22, rival)).toMatchObject({status: 'mismatch', entry: {line: 2}})
    expect(await file.keyTypes('lab-1', 22)).toEqual(['ecdsa-sha2-nistp256'])
  })

  it('treats a missing file as empty', async () => {
    expect((await new KnownHostsFile('/nonexistent/osctl/known_hosts').check('x', 22, ED_BLOB)).status).toBe('unknown')
  })
})
