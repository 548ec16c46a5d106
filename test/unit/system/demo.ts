import {SystemContainerDef, SystemContext} from '../../../src/system/definitions.js'
import {FakeSystemdHost} from '../../fakes/fake-systemd-host.js'

/** A system container whose health the fake host decides (see FakeSystemdHost.healthy). */
export const def: SystemContainerDef = {
  name: 'demo',
  image: 'demo',
  group: 'control',
  description: 'demo',
  secrets: [],
  ports: [1],
  args: () => ['/bin/demo'],
  env: () => ['A=1'],
  mounts: () => [{source: '/var/lib/osctl/data/demo', destination: '/data'}],
  health: () => ({url: 'http://127.0.0.1:1/health'}),
  healthTimeoutSeconds: 0.3,
}
export const ctx: SystemContext = {host: 'h1', address: '192.0.2.10', peers: [], passwords: {}, registryPort: 4000}
export const reg = (tag: string) => ({kind: 'registry' as const, ref: `r:4000/osctl/demo:${tag}`})

/** Tags 1…9 are good images (digest sha256:img<N>), `bad` never becomes healthy. */
export function demoHost(): FakeSystemdHost {
  const h = new FakeSystemdHost()
  h.registry.set('r:4000/osctl/demo:1', 'sha256:one').set('r:4000/osctl/demo:2', 'sha256:two').set('r:4000/osctl/demo:bad', 'sha256:bad')
  for (let i = 3; i <= 9; i++) h.registry.set(`r:4000/osctl/demo:${i}`, `sha256:img${i}`)
  h.broken.add('sha256:bad')
  return h
}
