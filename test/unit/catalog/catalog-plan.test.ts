import {cp, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {checkImages, planDeploy} from '../../../src/catalog/plan.js'
import {OsctlError, OsctlErrors} from '../../../src/errors.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {requiredSecrets} from '../../../src/site/secrets.js'
import {testSite} from '../../fakes/site.js'

async function errorsOf(p: Promise<unknown> | (() => unknown)): Promise<OsctlError[]> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return err instanceof OsctlErrors ? err.errors : [err as OsctlError]
  }
  throw new Error('expected an error')
}

describe('service catalog (templates/)', () => {
  it('loads the shipped services in dependency order, and every secret they use is one genpwd generates', async () => {
    const catalog = await loadCatalog(TEMPLATES_DIR)
    const order = catalog.services.map((s) => s.name)
    expect(order.indexOf('mariadb')).toBeLessThan(order.indexOf('keystone'))
    expect(order.indexOf('memcached')).toBeLessThan(order.indexOf('keystone'))
    const used = catalog.services.flatMap((s) => [...s.secrets, ...s.databases.map((d) => d.password)])
    expect(used.filter((k) => !requiredSecrets().includes(k))).toEqual([])
  })

  describe('validation errors cite service.yml:line', () => {
    let dir: string
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'osctl-catalog-'))
      await cp(TEMPLATES_DIR, dir, {recursive: true})
    })
    afterEach(() => rm(dir, {recursive: true, force: true}))

    it('reports unknown keys, unknown dependencies, missing templates and bad step containers together', async () => {
      const file = join(dir, 'keystone', 'service.yml')
      await writeFile(
        file,
        [
          'name: keystone', // 1
          'group: control', // 2
          'depends: [mariadb, memcache]', // 3
          'containers:', // 4
          '  - name: keystone', // 5
          '    image: keystone', // 6
          '    comand: x', // 7
          '    command: uwsgi', // 8
          '    health: {tcp: "x:1"}', // 9
          '    config:', // 10
          '      - {template: nope.njk, dest: /etc/x}', // 11
          'bootstrap:', // 12
          '  - {name: s, container: keystne, command: x, needs: [rabbitmq]}', // 13
          '  - {name: both, container: keystone, command: x, run: keystone-register}', // 14
          '  - {name: neither, container: keystone}', // 15
          '  - {name: extra, container: keystone, run: keystone-register, user: k, image_paths: [/x]}', // 16
          'containers_need: [mariadb, rabbitmq]', // 17
          '',
        ].join('\n'),
      )
      const errors = await errorsOf(loadCatalog(dir))
      // Only keystone's file was broken (other services that depend on keystone also complain).
      expect(errors.map((e) => e.location).filter((l) => l?.startsWith(file))).toEqual([`${file}:7:5`])
      errors.splice(0, errors.length, ...errors.filter((e) => e.location?.startsWith(file)))
      expect(errors[0].message).toContain('unknown key comand')
      expect(errors[0].hint).toContain('did you mean command?')

      await writeFile(file, (await import('node:fs')).readFileSync(file, 'utf8').replace('    comand: x\n', ''))
      const next = await errorsOf(loadCatalog(dir))
      const byMsg = Object.fromEntries(next.map((e) => [e.message, e]))
      expect(byMsg['template nope.njk does not exist in ' + join(dir, 'keystone') + ' (nor in _shared/)']?.location).toBe(`${file}:10:20`)
      expect(byMsg['bootstrap step s names unknown container keystne']?.hint).toBe('did you mean keystone?')
      expect(byMsg['bootstrap step s names unknown container keystne']?.location).toMatch(new RegExp(`${file}:12:`))
      expect(byMsg['keystone depends on unknown service memcache']?.location).toBe(`${file}:3:20`)
      expect(byMsg['keystone depends on unknown service memcache']?.hint).toBe('did you mean memcached?')
      // needs: among depends only (a step cannot wait for what its service does not start after).
      expect(byMsg['bootstrap step s needs rabbitmq, which keystone does not depend on']?.location).toBe(`${file}:12:55`)
      expect(byMsg["keystone's containers need rabbitmq, which keystone does not depend on"]?.location).toBe(`${file}:16:28`)
      // A step runs a command in its one-shot container, or is one osctl carries out itself: never both, never neither.
      for (const [step, line] of [['both', 13], ['neither', 14]] as const) {
        expect(byMsg[`bootstrap step ${step} needs exactly one of command and run`]?.location, step).toMatch(new RegExp(`${file}:${line}:`))
      }
      // And a `run` step takes neither a user nor image paths (it runs no container).
      expect(byMsg['bootstrap step extra runs keystone-register, which runs as no user']?.location).toMatch(new RegExp(`${file}:15:`))
      expect(byMsg['bootstrap step extra runs keystone-register, which reads nothing of the image']?.location).toMatch(new RegExp(`${file}:15:`))
    })

    it('a connected check: PROCESS:PORT once rendered, and a monitor for Docker beside it', async () => {
      const file = join(dir, 'nova', 'service.yml')
      const text = (await import('node:fs')).readFileSync(file, 'utf8')
      const line = (t: string, needle: string) => t.slice(0, t.indexOf(needle)).split('\n').length
      // Without its monitor: refused at load, on the health line.
      const noMonitor = text.replace('    monitor: {exec: healthcheck_rabbitmq nova-conductor}\n', '')
      await writeFile(file, noMonitor)
      const [e] = await errorsOf(loadCatalog(dir))
      expect(e.message).toBe("container nova-conductor's health is a connected check, which osctl reads from the host; Docker needs a check to run in the container")
      expect(e.location).toMatch(new RegExp(`${file}:${line(noMonitor, 'connected: "nova-conductor')}:`))
      // Not PROCESS:PORT once rendered: refused when planned, on its line, before any host is touched.
      const bad = text.replace('connected: "nova-conductor:5672"', 'connected: "nova-conductor {{ api_address }}"')
      await writeFile(file, bad)
      const site = testSite()
      const [p] = await errorsOf(async () => planDeploy(site, await loadCatalog(dir), Overrides.empty(), {services: ['nova'], targets: site.hosts}))
      expect(p.message).toBe('connected check "nova-conductor 10.0.0.11" is not PROCESS:PORT')
      expect(p.exitCode).toBe(2)
      expect(p.location).toMatch(new RegExp(`${file}:${line(bad, 'connected: "nova-conductor')}:`))
      // A leading zero would be read as octal by the probe's printf: not a port.
      await writeFile(file, text.replace('connected: "nova-conductor:5672"', 'connected: "nova-conductor:05672"'))
      const [z] = await errorsOf(async () => planDeploy(site, await loadCatalog(dir), Overrides.empty(), {services: ['nova'], targets: site.hosts}))
      expect(z.message).toBe('connected check "nova-conductor:05672" is not PROCESS:PORT')
    })

    it('health: a misspelt key is named, and only the combinations it takes', async () => {
      const file = join(dir, 'rabbitmq', 'service.yml')
      const text = (await import('node:fs')).readFileSync(file, 'utf8')
      const line = (t: string) => t.slice(0, t.indexOf('    health: {')).split('\n').length
      const misspelt = text.replace(/(    health: \{tcp: [^\n]*), timeout: 180\}/, '$1, timout: 180}')
      await writeFile(file, misspelt)
      const [e] = await errorsOf(loadCatalog(dir))
      expect(e.message).toContain('unknown key timout')
      expect(e.hint).toContain('did you mean timeout?')
      expect(e.location).toMatch(new RegExp(`${file}:${line(misspelt)}:`))
      const pair = text.replace(/    health: \{tcp: [^\n]*\}/, '    health: {http: "http://x:1/", tcp: "x:1"}')
      await writeFile(file, pair)
      const [p] = await errorsOf(loadCatalog(dir))
      expect(p.message).toBe("container rabbitmq's health has http and tcp: it takes one of http, tcp, exec and connected, or tcp or connected with exec")
      expect(p.location).toMatch(new RegExp(`${file}:${line(pair)}:`))
      await writeFile(file, text.replace(/    health: \{tcp: [^\n]*\}/, '    health: {exec: ""}'))
      expect((await errorsOf(loadCatalog(dir)))[0].message).toBe("container rabbitmq's health runs an empty command")
    })

    it('reports a dependency cycle', async () => {
      const file = join(dir, 'mariadb', 'service.yml')
      const text = (await import('node:fs')).readFileSync(file, 'utf8')
      await writeFile(file, text.replace('cluster: galera', 'cluster: galera\ndepends: [keystone]'))
      const [e] = await errorsOf(loadCatalog(dir))
      expect(e.message).toMatch(/dependency cycle: (keystone → mariadb → keystone|mariadb → keystone → mariadb)/)
    })
  })
})

describe('planDeploy: everything checked before any host is touched', () => {
  const plan = async (site = testSite(), services?: string[], overrides = Overrides.empty()) => planDeploy(site, await loadCatalog(TEMPLATES_DIR), overrides, {services, targets: site.hosts})

  it('orders services by dependency and renders every target host', async () => {
    const p = await plan()
    const order = p.services.map((s) => s.def.name)
    expect(order).toEqual(['mariadb', 'memcached', 'keystone', 'glance', 'rabbitmq', 'placement', 'nova'])
    // Every service comes after everything it depends on.
    for (const s of p.services) for (const d of s.def.depends) if (order.includes(d)) expect(order.indexOf(d), `${s.def.name} after ${d}`).toBeLessThan(order.indexOf(s.def.name))
    // nova-compute is not in this site's enabled_services, so it is not planned.
    expect(order).not.toContain('nova-compute')
    expect(p.services.find((s) => s.def.name === 'mariadb')!.targets.map((h) => h.name)).toEqual(['lab-1'])
    expect([...p.services.find((s) => s.def.name === 'keystone')!.rendered.keys()]).toEqual(['lab-1', 'lab-2'])
    const ks = p.services.find((s) => s.def.name === 'keystone')!.rendered.get('lab-2')!.containers[0]
    expect(ks.files['keystone.conf']).toContain('connection = mysql+pymysql://keystone:ks-db@10.0.0.11:3306/keystone')
    expect(ks.files['keystone.conf']).toContain('memcache_servers = 10.0.0.11:11211,10.0.0.12:11211')
    expect(ks.env.OSCTL_BIND_HOST).toBe('10.0.0.12')
    expect(p.skipped.map((s) => s.service)).toEqual(['etcd', 'registry'])
  })

  it('renders the kinds of health check: connected, and tcp before exec', async () => {
    const p = await plan()
    const containers = (service: string) => p.services.find((s) => s.def.name === service)!.rendered.get('lab-1')!.containers
    const conductor = containers('nova').find((c) => c.name === 'nova-conductor')!
    expect(conductor.health).toEqual({kind: 'connected', target: 'nova-conductor:5672', timeoutSeconds: 180})
    expect(conductor.monitor).toEqual({kind: 'exec', target: 'healthcheck_rabbitmq nova-conductor'})
    const rabbit = containers('rabbitmq')[0]
    expect(rabbit.health.kind).toBe('exec')
    expect(rabbit.health.target).toMatch(/^rabbitmqctl -q eval /)
    expect(rabbit.health.first).toEqual({kind: 'tcp', target: '10.0.0.11:5672'})
  })

  it('refuses unknown services, listing the known ones', async () => {
    const [e] = await errorsOf(plan(testSite(), ['keystonee', 'glance']))
    expect(e.exitCode).toBe(2)
    expect(e.message).toBe('unknown service keystonee')
    expect(e.hint).toMatch(/^did you mean keystone\? known services: mariadb, memcached, keystone, .*rabbitmq/)
  })

  it('refuses a service whose dependency is disabled, naming both', async () => {
    const [e] = await errorsOf(plan(testSite({enabledServices: ['memcached', 'keystone']}), ['keystone']))
    expect(e.message).toBe('service keystone depends on mariadb, which is not in enabled_services')
    expect(e.location).toBe('/nonexistent/site/osctl.yml')
  })

  it('refuses a missing password, naming the key and genpwd', async () => {
    const site = testSite()
    delete site.passwords.keystone_database_password
    const [e] = await errorsOf(plan(site, ['keystone']))
    expect(e.message).toContain('password keystone_database_password')
    expect(e.hint).toContain('osctl genpwd')
  })

  it('reports a template error with file:line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'osctl-tpl-'))
    try {
      await cp(TEMPLATES_DIR, dir, {recursive: true})
      await writeFile(join(dir, 'memcached', 'service.yml'), (await import('node:fs')).readFileSync(join(dir, 'memcached', 'service.yml'), 'utf8').replace('-m 256', '-m {{ memory_mb }}'))
      await writeFile(join(dir, 'keystone', 'keystone.conf.njk'), '[DEFAULT]\n\ndebug = {{ keystone_debug }}\n')
      const site = testSite()
      const errors = await errorsOf(async () => planDeploy(site, await loadCatalog(dir), Overrides.empty(), {targets: site.hosts}))
      expect(errors.map((e) => e.location)).toEqual([join(dir, 'memcached', 'service.yml') + ':8', join(dir, 'keystone', 'keystone.conf.njk') + ':3'])
      expect(errors[1].message).toContain('template error')
      expect(errors[1].exitCode).toBe(2)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('checkImages: the site registry asked once per image before any host is touched', () => {
  const answer = (status: number, digest?: string) => new Response(null, {status, headers: digest ? {'docker-content-digest': digest} : {}})

  it('resolves to each image ref’s manifest digest; a missing image is IMAGE_UNKNOWN naming it; an unreachable registry is no error and no digest', async () => {
    const site = testSite()
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services: ['mariadb', 'memcached'], targets: site.hosts})
    const asked: string[] = []
    const digest = (url: string) => `sha256:${(url.includes('/mariadb/') ? 'a' : 'b').repeat(64)}`
    const found = await checkImages(site, plan, (async (url: string, init?: RequestInit) => {
      asked.push(`${init?.method} ${url}`)
      return answer(200, digest(url))
    }) as typeof fetch)
    expect(asked).toHaveLength(2)
    expect(asked.every((a) => a.startsWith('HEAD '))).toBe(true)
    const refs = plan.services.flatMap((s) => [...s.rendered.values()].flatMap((r) => r.containers.map((c) => c.imageRef)))
    expect([...found.keys()].sort()).toEqual([...new Set(refs)].sort())
    for (const [ref, d] of found) expect(d).toBe(`sha256:${(ref.includes('/mariadb:') ? 'a' : 'b').repeat(64)}`)

    const errs = await errorsOf(checkImages(site, plan, (async (url: string) => answer(url.includes('/memcached/') ? 404 : 200, 'sha256:' + 'c'.repeat(64))) as typeof fetch))
    expect(errs[0].code).toBe('IMAGE_UNKNOWN')
    expect(errs[0].message).toMatch(/^image memcached \(tag \S+\) not in the site registry /)

    expect((await checkImages(site, plan, (async () => {
      throw new Error('ECONNREFUSED')
    }) as typeof fetch)).size).toBe(0)
  })
})
