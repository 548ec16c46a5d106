import {describe, expect, it} from 'vitest'

import {createOptions, desiredSpec, specDiff, specHash} from '../../../src/catalog/container-spec.js'
import {createBody} from '../../../src/docker/create-body.js'
import type {RenderedContainer} from '../../../src/catalog/render.js'

const rc = (patch: Partial<RenderedContainer> = {}): RenderedContainer => ({
  service: 'keystone',
  name: 'keystone',
  image: 'keystone',
  imageRef: 'reg:4000/osctl/keystone:zed',
  env: {B: '2', A: '1'},
  volumes: ['keystone_fernet_keys:/etc/keystone/fernet-keys'],
  health: {kind: 'http', target: 'http://10.0.0.1:5000/v3', timeoutSeconds: 120},
  files: {'config.json': '{}', 'keystone.conf': '[DEFAULT]\n'},
  overrides: [],
  ...patch,
})

describe('container spec hash', () => {
  it('is stable whatever the key order', () => {
    expect(specHash(desiredSpec(rc(), 'sha256:1'))).toBe(specHash(desiredSpec(rc({env: {A: '1', B: '2'}}), 'sha256:1')))
  })

  it('ignores inputs that do not change how the container runs (which overrides were applied)', () => {
    expect(specHash(desiredSpec(rc({overrides: ['/site/overrides/keystone.conf']}), 'sha256:1'))).toBe(specHash(desiredSpec(rc(), 'sha256:1')))
  })

  it("with a monitor, covers the check Docker runs, not osctl's gate: a service on the bus kept its hash when its gate moved to the host", () => {
    const bus = {name: 'nova-conductor', service: 'nova'}
    // Before: the gate was Docker's check too, a docker exec.
    const before = desiredSpec(rc({...bus, health: {kind: 'exec', target: 'healthcheck_rabbitmq nova-conductor', timeoutSeconds: 180}}), 'sha256:1')
    const now = desiredSpec(rc({...bus, health: {kind: 'connected', target: 'nova-conductor:5672', timeoutSeconds: 180}, monitor: {kind: 'exec', target: 'healthcheck_rabbitmq nova-conductor'}}), 'sha256:1')
    expect(specHash(now)).toBe(specHash(before))
    // A gate-only change swaps nothing; a change of what Docker runs, or of the gate's timeout, does.
    expect(specHash(desiredSpec(rc({...bus, health: {kind: 'exec', target: 'other gate', first: {kind: 'connected', target: 'nova-conductor:5672'}, timeoutSeconds: 180}, monitor: now.monitor}), 'sha256:1'))).toBe(specHash(now))
    expect(specHash(desiredSpec(rc({...bus, health: now.health, monitor: {kind: 'exec', target: 'healthcheck_rabbitmq nova-scheduler'}}), 'sha256:1'))).not.toBe(specHash(now))
    expect(specHash(desiredSpec(rc({...bus, health: {...now.health, timeoutSeconds: 60}, monitor: now.monitor}), 'sha256:1'))).not.toBe(specHash(now))
  })

  it('changes with the image id, env, volumes, health and each config file, and says which', () => {
    const base = desiredSpec(rc(), 'sha256:1')
    const cases: Array<[ReturnType<typeof desiredSpec>, string[]]> = [
      [desiredSpec(rc(), 'sha256:2'), ['image']],
      [desiredSpec(rc({env: {A: '1', B: '3'}}), 'sha256:1'), ['env']],
      [desiredSpec(rc({volumes: []}), 'sha256:1'), ['volumes']],
      [desiredSpec(rc({health: {kind: 'tcp', target: '10.0.0.1:5000', timeoutSeconds: 120}}), 'sha256:1'), ['health']],
      [desiredSpec(rc({files: {'config.json': '{}', 'keystone.conf': '[DEFAULT]\ndebug = true\n'}}), 'sha256:1'), ['config:keystone.conf']],
      [desiredSpec(rc({files: {'config.json': '{"x":1}', 'keystone.conf': '[DEFAULT]\n', 'policy.yaml': ''}}), 'sha256:2'), ['image', 'config:config.json', 'config:policy.yaml']],
    ]
    for (const [after, diff] of cases) {
      expect(specHash(after)).not.toBe(specHash(base))
      expect(specDiff(base, after)).toEqual(diff)
    }
    expect(specDiff(base, desiredSpec(rc(), 'sha256:1'))).toEqual([])
    expect(specDiff(undefined, base)).toEqual(['new'])
  })

  it('creates host-network containers with restart policy no, labels and the config mounted read-only', () => {
    const spec = desiredSpec(rc(), 'sha256:1')
    const o = createOptions(spec, 3)
    expect(o).toMatchObject({name: 'keystone', image: 'reg:4000/osctl/keystone:zed', networkMode: 'host', restartPolicy: 'no'})
    expect(o.labels).toMatchObject({'io.osctl.managed': 'true', 'io.osctl.service': 'keystone', 'io.osctl.revision': '3', 'io.osctl.config-hash': specHash(spec)})
    expect(o.binds).toContain('/etc/osctl/keystone:/var/lib/osctl/config_files:ro')
    expect(o.healthcheck?.test).toEqual(['CMD', 'healthcheck_curl', 'http://10.0.0.1:5000/v3'])
  })

  it('a monitor is what Docker repeats instead of the gate; without one the hash is what it was, with one it changes and is named', () => {
    const plain = desiredSpec(rc(), 'sha256:1')
    expect(plain).not.toHaveProperty('monitor')
    const watched = desiredSpec(rc({monitor: {kind: 'tcp', target: '10.0.0.1:5672'}}), 'sha256:1')
    expect(specDiff(plain, watched)).toEqual(['monitor'])
    expect(specHash(watched)).not.toBe(specHash(plain))
    // The gate stays what osctl waits on; Docker gets the cheap check (the port from ADDRESS:PORT).
    expect(watched.health).toEqual(plain.health)
    expect(createOptions(watched, 1).healthcheck).toEqual({test: ['CMD', 'healthcheck_port', '5672'], intervalSeconds: 30, timeoutSeconds: 10, retries: 3})
    expect(createOptions(desiredSpec(rc({monitor: {kind: 'exec', target: 'true'}}), 'sha256:1'), 1).healthcheck?.test).toEqual(['CMD-SHELL', 'true'])
  })

  it("Docker's check timing from osctl.yml: the default leaves spec and hash as they were; another one changes the hash, is named `healthcheck` and reaches the engine; off is `NONE`", () => {
    const plain = desiredSpec(rc(), 'sha256:1')
    const same = desiredSpec(rc({dockerCheck: undefined}), 'sha256:1')
    expect(plain).not.toHaveProperty('dockerCheck')
    expect(specHash(same)).toBe(specHash(plain))
    const slow = desiredSpec(rc({dockerCheck: {enabled: true, intervalSeconds: 120, timeoutSeconds: 20, retries: 5, startPeriodSeconds: 15}}), 'sha256:1')
    expect(specDiff(plain, slow)).toEqual(['healthcheck'])
    expect(specHash(slow)).not.toBe(specHash(plain))
    expect(createOptions(slow, 1).healthcheck).toEqual({test: ['CMD', 'healthcheck_curl', 'http://10.0.0.1:5000/v3'], intervalSeconds: 120, timeoutSeconds: 20, retries: 5, startPeriodSeconds: 15})
    expect(createBody(createOptions(slow, 1)).Healthcheck).toEqual({Test: ['CMD', 'healthcheck_curl', 'http://10.0.0.1:5000/v3'], Interval: 120e9, Timeout: 20e9, Retries: 5, StartPeriod: 15e9})
    const off = desiredSpec(rc({dockerCheck: {enabled: false, intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 0}}), 'sha256:1')
    expect(specDiff(plain, off)).toEqual(['healthcheck'])
    expect(createOptions(off, 1).healthcheck?.test).toEqual(['NONE'])
    // Back to the default: the hash the container had before (a redeploy puts the old check back).
    expect(specDiff(off, plain)).toEqual(['healthcheck'])
    expect(createBody(createOptions(plain, 1)).Healthcheck).not.toHaveProperty('StartPeriod')
  })

  it('keeps the hash of a container without privileges; privileges change it, are named, and reach the engine', () => {
    const plain = desiredSpec(rc(), 'sha256:1')
    expect(plain).not.toHaveProperty('privileges')
    expect(createBody(createOptions(plain, 1)).HostConfig).toEqual({Binds: expect.any(Array), NetworkMode: 'host', RestartPolicy: {Name: 'no'}})
    const agent = desiredSpec(rc({privileges: {capAdd: ['NET_ADMIN', 'SYS_ADMIN'], devices: ['/dev/net/tun'], deviceCgroupRules: ['c 10:232 rwm'], pid: 'host', cgroupns: 'host', securityOpt: ['apparmor=unconfined']}}), 'sha256:1')
    expect(specDiff(plain, agent)).toEqual(['privileges'])
    expect(specHash(agent)).not.toBe(specHash(plain))
    expect(createBody(createOptions(agent, 1)).HostConfig).toMatchObject({
      CapAdd: ['NET_ADMIN', 'SYS_ADMIN'],
      Devices: [{PathOnHost: '/dev/net/tun', PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm'}],
      DeviceCgroupRules: ['c 10:232 rwm'],
      PidMode: 'host',
      CgroupnsMode: 'host',
      SecurityOpt: ['apparmor=unconfined'],
    })
    expect(createBody(createOptions(agent, 1)).HostConfig).not.toHaveProperty('MaskedPaths')
  })

  it('turns security_opt systempaths=unconfined into empty masked and read-only paths (the engine refuses the CLI word)', () => {
    const agent = desiredSpec(rc({privileges: {capAdd: ['NET_ADMIN'], securityOpt: ['systempaths=unconfined', 'apparmor=unconfined']}}), 'sha256:1')
    const host = createBody(createOptions(agent, 1)).HostConfig
    expect(host).toMatchObject({SecurityOpt: ['apparmor=unconfined'], MaskedPaths: [], ReadonlyPaths: []})
    const only = desiredSpec(rc({privileges: {securityOpt: ['systempaths=unconfined']}}), 'sha256:1')
    expect(createBody(createOptions(only, 1)).HostConfig).not.toHaveProperty('SecurityOpt')
  })
})
