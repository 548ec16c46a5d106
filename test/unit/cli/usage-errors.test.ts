import {execa} from 'execa'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {notFoundError} from '../../../src/cli/not-found.js'
import {runCli} from '../../helpers/cli.js'

/** Runs the CLI on many argv at once (each is a Node start), four at a time. */
async function runAll(cases: string[][], env: Record<string, string> = {}): Promise<Array<Awaited<ReturnType<typeof runCli>>>> {
  const out: Array<Awaited<ReturnType<typeof runCli>>> = []
  for (let i = 0; i < cases.length; i += 4) out.push(...(await Promise.all(cases.slice(i, i + 4).map((argv) => runCli(argv, {env})))))
  return out
}

// A site that does not exist: a usage error must be reported before the site is even read.
const NOSITE = {OSCTL_SITE: '/nonexistent/osctl-usage-test'}

describe('usage errors keep the flag or argument and the reason', () => {
  const cases: Array<[string[], string, string]> = [
    [['service', 'upgrade'], 'Error: SERVICE: required argument is missing', 'SERVICE: Service (keystone, nova …)'],
    [['service', 'upgrade', 'keystone'], 'Error: --tag: required flag is missing', 'see --help'],
    [['service', 'upgrade', 'keystone', '--tag', 'x', '--serial', 'abc'], 'Error: --serial: expected an integer, not "abc"', 'see --help'],
    [['service', 'upgrade', 'keystone', '--tag', 'x', '--serial', '0'], 'Error: --serial: expected an integer greater than or equal to 1, not "0"', 'see --help'],
    [['service', 'upgrade', 'keystone', '--tag'], 'Error: --tag: needs a value', 'write --tag VALUE or --tag=VALUE'],
    [['service', 'list', '--progress', 'jsn'], 'Error: --progress: must be one of auto, live, plain, json, none, not "jsn"', 'did you mean json?'],
    [['service', 'list', '--sit', 'x'], 'Error: --sit: no such flag', 'did you mean --site?'],
    [['system', 'history'], 'Error: NAME: required argument is missing', 'NAME: System container (etcd, registry).'],
    [['service', 'list', 'extra'], 'Error: osctl service list takes no argument extra', 'see `osctl service list --help`'],
    [['servce', 'list'], 'Error: osctl has no command servce list', 'did you mean `osctl service list`?'],
    [['sytem', 'upgrade', 'etcd'], 'Error: osctl has no command sytem upgrade etcd', 'did you mean `osctl system upgrade`?'],
    [['frobnicate'], 'Error: osctl has no command frobnicate', '`osctl help` lists every command'],
  ]

  // One Node start per run, four at a time; every case as text, every third with --json too.
  it('every case, as text and (some) as --json', async () => {
    const argvs = cases.flatMap(([argv], i) => (i % 3 === 0 ? [argv, [...argv, '--json']] : [argv]))
    const results = await runAll(argvs, NOSITE)
    for (const [k, argv] of argvs.entries()) {
      const r = results[k]
      const json = argv.at(-1) === '--json'
      const [, headline, hint] = cases.find(([a]) => a.join(' ') === (json ? argv.slice(0, -1) : argv).join(' '))!
      const name = argv.join(' ')
      expect(r.exitCode, name).toBe(2)
      if (!json) {
        expect(r.stderr.split('\n')[0], name).toBe(headline)
        expect(r.stderr, name).toContain(`Hint: ${hint}`)
        expect(r.stderr, name).not.toMatch(/\n\s+at |See more help|The following error|Parsing --/)
        expect(r.stdout, name).toBe('')
        continue
      }
      const doc = JSON.parse(r.stdout)
      expect(doc.ok, name).toBe(false)
      expect(doc.error.code, name).toBe('USAGE')
      expect(`${doc.error.location ? `${doc.error.location}: ` : ''}${doc.error.message}`, name).toBe(headline.replace(/^Error: /, ''))
      expect(r.stdout, name).not.toMatch(/See more help|Parsing --/)
    }
  }, 180_000)
})

describe('help', () => {
  it('`osctl help`, `osctl -h` and `osctl --help` list the commands; `help CMD` and `CMD -h` show its help', async () => {
    const [help, h, long, helpCmd, cmdH] = await runAll([['help'], ['-h'], ['--help'], ['help', 'service', 'upgrade'], ['service', 'upgrade', '-h']])
    for (const r of [help, h, long]) {
      expect(r.exitCode).toBe(0)
      expect(r.stdout).toMatch(/^\s+deploy\s/m)
      expect(r.stdout).toMatch(/^\s+service\s/m)
    }
    expect(help.stdout).toBe(long.stdout)
    expect(h.stdout).toBe(long.stdout)
    for (const r of [helpCmd, cmdH]) {
      expect(r.exitCode).toBe(0)
      expect(r.stdout).toContain('$ osctl service upgrade SERVICE --tag <value>')
      expect(r.stdout).toContain('EXIT CODES')
    }
    expect(helpCmd.stdout).toBe(cmdH.stdout)
  }, 120_000)

  it('shell completion: `osctl autocomplete bash` builds the cache; bash then completes commands, subcommands and flags', async () => {
    const home = await mkdtemp(join(tmpdir(), 'osctl-ac-'))
    try {
      const setup = await runCli(['autocomplete', 'bash'], {env: {HOME: home}})
      expect(setup.exitCode, setup.stderr).toBe(0)
      expect(setup.stdout).toContain('osctl autocomplete script bash')
      const script = await runCli(['autocomplete', 'script', 'bash'], {env: {HOME: home}})
      expect(script.stdout).toContain('OSCTL_AC_BASH_SETUP_PATH=')
      // What the user's .bashrc gets (the script), then what bash runs on <TAB>: the setup it points at, then the completion function on each word list.
      const complete = (words: string) => `COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); COMPREPLY=(); _osctl_autocomplete; echo "${words} -> $(printf '%s\\n' "\${COMPREPLY[@]}" | sort -u | tr '\\n' ' ')"`
      const bash = await execa('bash', ['-c', ['eval "$OSCTL_AC_SCRIPT"', 'complete -p osctl', complete('osctl dep'), complete('osctl service up'), complete('osctl service upgrade --se')].join('\n')], {env: {HOME: home, OSCTL_AC_SCRIPT: script.stdout}, reject: false})
      expect(bash.stderr).toBe('')
      expect(bash.stdout.split('\n')).toEqual(['complete -F _osctl_autocomplete osctl', 'osctl dep -> deploy ', 'osctl service up -> upgrade ', 'osctl service upgrade --se -> --serial '])
    } finally {
      await rm(home, {recursive: true, force: true})
    }
  }, 120_000)
})

describe('notFoundError', () => {
  const ids = ['deploy', 'service:list', 'service:upgrade', 'system:upgrade', 'image:build', 'genpwd']
  const topics = ['service', 'system', 'image', 'lab']
  it.each([
    ['servce:list', 'osctl has no command servce list', 'did you mean `osctl service list`?'],
    ['deplyo', 'osctl has no command deplyo', 'did you mean `osctl deploy`?'],
    ['imag:bild', 'osctl has no command imag bild', 'did you mean `osctl image build`?'],
    ['service:lst', 'osctl has no command service lst', 'did you mean `osctl service list`?'],
    ['service:frob', 'osctl has no command service frob', '`osctl service --help` lists its commands: list, upgrade'],
    ['sytem:frob', 'osctl has no command sytem frob', 'did you mean `osctl system …`?'],
    ['genpwd:now:please', 'osctl genpwd takes no argument now please', 'see `osctl genpwd --help`'],
  ])('%s', (id, message, hint) => {
    const e = notFoundError(id, [], ids, topics)
    expect(e.exitCode).toBe(2)
    expect(e.message).toBe(message)
    expect(e.hint).toContain(hint)
  })
})
