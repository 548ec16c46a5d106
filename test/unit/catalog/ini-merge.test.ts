import {describe, expect, it} from 'vitest'

import {OsctlError} from '../../../src/errors.js'
import {isIniFile, mergeIni} from '../../../src/catalog/ini-merge.js'

const BASE = `# keystone.conf, rendered
[DEFAULT]
debug = false
# the log goes to stderr
use_stderr = true

[token]
provider = fernet
expiration = 86400

[cache]
backend = oslo_cache.memcache_pool
`

describe('mergeIni', () => {
  it('replaces keys in place and keeps every comment and blank line of the base', () => {
    const out = mergeIni(BASE, '[token]\nexpiration = 3600\n[DEFAULT]\ndebug = true\n')
    expect(out).toBe(BASE.replace('expiration = 86400', 'expiration = 3600').replace('debug = false', 'debug = true'))
  })

  it('adds a new key after the last key of its section, before the blank separator', () => {
    const out = mergeIni(BASE, '[DEFAULT]\nlog_dir = /var/log\n')
    expect(out).toContain('use_stderr = true\nlog_dir = /var/log\n\n[token]')
  })

  it('appends a new section at the end', () => {
    const out = mergeIni(BASE, '# mine\n[oslo_policy]\nenforce_scope = true\n')
    expect(out.endsWith('backend = oslo_cache.memcache_pool\n\n[oslo_policy]\nenforce_scope = true\n')).toBe(true)
  })

  it('replaces a repeated (multi-valued) key as a group with all override values', () => {
    const base = '[filter]\nallowed = a\nother = 1\nallowed = b\n'
    expect(mergeIni(base, '[filter]\nallowed = x\nallowed = y\n')).toBe('[filter]\nallowed = x\nallowed = y\nother = 1\n')
  })

  it('keeps continuation lines with their key', () => {
    const base = '[a]\nlist = one\n  two\nnext = 1\n'
    expect(mergeIni(base, '[a]\nlist = three\n')).toBe('[a]\nlist = three\nnext = 1\n')
    expect(mergeIni('[a]\nx = 1\n', '[a]\nlist = one\n  two\n')).toBe('[a]\nx = 1\nlist = one\n  two\n')
  })

  it('merges section-less files (rabbitmq.conf style) and bare keys (my.cnf)', () => {
    expect(mergeIni('listeners.tcp.1 = 10.0.0.1:5672\nlog.console = true\n', 'log.console = false\n')).toBe('listeners.tcp.1 = 10.0.0.1:5672\nlog.console = false\n')
    expect(mergeIni('[mysqld]\nport = 3306\n', '[mysqld]\nskip-name-resolve\n')).toBe('[mysqld]\nport = 3306\nskip-name-resolve\n')
  })

  it('rejects an unparsable override line citing file:line', () => {
    try {
      mergeIni(BASE, '[token]\n= nothing\n', '/site/overrides/keystone.conf')
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(OsctlError)
      expect((err as OsctlError).location).toBe('/site/overrides/keystone.conf:2')
      expect((err as OsctlError).exitCode).toBe(2)
    }
  })

  it('knows which files are merged and which are replaced', () => {
    expect(['keystone.conf', 'uwsgi.ini', 'my.cnf'].map(isIniFile)).toEqual([true, true, true])
    expect(['policy.yaml', 'erlang.cookie'].map(isIniFile)).toEqual([false, false])
  })
})
