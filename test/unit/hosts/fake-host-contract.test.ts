import {Duplex, PassThrough} from 'node:stream'
import {setTimeout as sleep} from 'node:timers/promises'

import {FakeHost} from '../../fakes/fake-host.js'
import {hostContract} from '../../integration/hosts/host-contract.js'

// The fake cannot run a shell, so it is taught the few commands the contract uses; everything
// else the contract checks (files, errors, timeouts) is the fake's own behaviour.
const SCRIPTS: Record<string, (env: Record<string, string>, cwd: string) => {exitCode?: number; stdout?: string; stderr?: string}> = {
  'printf out; printf err >&2; exit 3': () => ({exitCode: 3, stdout: 'out', stderr: 'err'}),
  'echo "$OSCTL_T:$(pwd)"': (env, cwd) => ({stdout: `${env.OSCTL_T}:${cwd}\n`}),
  'printf o1; printf e1 >&2; printf o2': () => ({stdout: 'o1o2', stderr: 'e1'}),
  'for i in $(seq 1 30); do echo line$i >&2; done; exit 4': () => ({
    exitCode: 4,
    stderr: Array.from({length: 30}, (_, i) => `line${i + 1}\n`).join(''),
  }),
}

function teach(fake: FakeHost): FakeHost {
  return fake
    .on(/^sh -c /, (c) => {
      const exit = /^exit (\d+)$/.exec(c.argv![2])
      if (exit) return {exitCode: Number(exit[1])}
      return SCRIPTS[c.argv![2]]?.(c.env ?? {}, c.cwd ?? '/') ?? {exitCode: 2, stderr: 'unknown script\n'}
    })
    .on('echo "$((1+2))" && echo done', () => '3\ndone\n')
    .on('printf', (c) => c.argv!.slice(2).map((a) => c.argv![1].replace('%s', a)).join(''))
    .on('cat', (c) => c.input ?? '')
    .on('sleep', async (c) => {
      await sleep(Number(c.argv![1]) * 1000)
    })
    .on('stat', (c, h) => {
      const mode = h.files.get(c.argv![3])?.mode ?? h.dirs.get(c.argv![3])
      return mode !== undefined ? `${(mode & 0o7777).toString(8)}\n` : {exitCode: 1, stderr: `stat: cannot stat '${c.argv![3]}'\n`}
    })
    .on('ls', (c, h) => {
      const d = `${c.argv![2]}/`
      const names = [...h.files.keys()].filter((k) => k.startsWith(d)).map((k) => k.slice(d.length).split('/')[0])
      return [...new Set(names)].sort().map((n) => `${n}\n`).join('')
    })
}

hostContract(
  'FakeHost',
  async () =>
    teach(new FakeHost('fake-contract')).onTcp('192.0.2.7', 7, () => {
      const readable = new PassThrough()
      readable.end('osctl-contract\n')
      return Duplex.from({readable, writable: new PassThrough()})
    }),
  async () => ({address: '192.0.2.7', port: 7, greeting: /^osctl-contract\n/}),
)
