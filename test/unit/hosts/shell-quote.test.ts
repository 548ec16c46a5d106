import {describe, expect, it} from 'vitest'
import {execFileSync} from 'node:child_process'

import {commandLine, shellQuote} from '../../../src/hosts/host.js'

/** What a real POSIX shell makes of the quoted line: the words it would pass to a program. */
function words(line: string): string[] {
  const out = execFileSync('sh', ['-c', `for a in ${line}; do printf '%s\\0' "$a"; done`]).toString()
  return out.split('\0').slice(0, -1)
}

describe('shellQuote', () => {
  it('leaves plain words alone and quotes everything else', () => {
    expect(shellQuote(['systemctl', 'restart', 'osctl-etcd.service'])).toBe('systemctl restart osctl-etcd.service')
    expect(shellQuote(['echo', 'a b'])).toBe("echo 'a b'")
    expect(shellQuote(['FOO=bar'])).toBe("'FOO=bar'")
    expect(shellQuote(['~'])).toBe("'~'")
  })

  it('quotes the empty string so it stays an argument', () => {
    expect(shellQuote(['printf', ''])).toBe("printf ''")
  })

  it('escapes single quotes', () => {
    expect(shellQuote(["it's"])).toBe(`'it'\\''s'`)
  })

  it.each([
    ['spaces', 'a  b '],
    ['single quotes', "it's 'quoted'"],
    ['double quotes', 'say "hi"'],
    ['dollar and backticks', '$HOME $(id) `id` ${x}'],
    ['empty string', ''],
    ['newlines', 'line1\nline2\n'],
    ['globs and operators', '*; rm -rf / | & > < ( )'],
    ['backslashes', 'a\\b\\\\c\\'],
    ['unicode', 'wörld ✓'],
  ])('round-trips %s through a real shell', (_name, arg) => {
    expect(words(shellQuote([arg, 'end']))).toEqual([arg, 'end'])
  })
})

describe('commandLine', () => {
  it('wraps string commands in sh -c and prefixes env and cwd', () => {
    expect(commandLine('echo $HOME')).toBe("sh -c 'echo $HOME'")
    expect(commandLine(['ls'], {cwd: '/var/lib/osctl', env: {A: 'x y'}})).toBe("cd /var/lib/osctl && env 'A=x y' ls")
  })

  it('rejects env names a shell could misread', () => {
    expect(() => commandLine(['ls'], {env: {'A;rm': 'x'}})).toThrow(/invalid environment variable/)
  })
})
