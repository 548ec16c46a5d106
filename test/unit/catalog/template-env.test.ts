import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {renderTemplateString, templateEnvironment} from '../../../src/catalog/template-env.js'
import {OsctlErrors} from '../../../src/errors.js'
import {serviceRegistry} from '../../../src/site/service-registry.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {testSite} from '../../fakes/site.js'

// Compiled templates are reused within a process (one compile for every host): what they render
// must still follow the files' current text and each host's variables.
describe('template compile cache', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-tplcache-'))
    await cp(TEMPLATES_DIR, dir, {recursive: true})
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  const keystoneConf = async (host: string) => {
    const site = testSite()
    const plan = planDeploy(site, await loadCatalog(dir), Overrides.empty(), {services: ['keystone'], targets: site.hosts})
    return plan.services[0].rendered.get(host)!.containers.find((c) => c.name === 'keystone')!.files['keystone.conf']
  }

  it('renders each host its own values from one compiled template, and a changed file its new text', async () => {
    const file = join(dir, 'keystone', 'keystone.conf.njk')
    await writeFile(file, `${await readFile(file, 'utf8')}# host {{ inventory_hostname }}\n`)
    expect(await keystoneConf('lab-1')).toContain('# host lab-1\n')
    expect(await keystoneConf('lab-2')).toContain('# host lab-2\n')
    await writeFile(file, `${await readFile(file, 'utf8')}# changed {{ api_address }}\n`)
    expect(await keystoneConf('lab-2')).toContain('# host lab-2\n# changed 10.0.0.12\n')
  })

  it('a template that does not compile is reported at file:line on every render, and fixed once the file is', async () => {
    const file = join(dir, 'keystone', 'keystone.conf.njk')
    const good = await readFile(file, 'utf8')
    await writeFile(file, '[DEFAULT]\n\ndebug = {% if %}\n')
    for (let i = 0; i < 2; i++) {
      const err = await keystoneConf('lab-1').then(() => undefined, (e: unknown) => e as OsctlErrors)
      expect(err).toBeInstanceOf(OsctlErrors)
      expect(err!.errors.map((e) => e.location)).toEqual([`${file}:3`])
    }
    await writeFile(file, good)
    expect(await keystoneConf('lab-1')).toContain('[DEFAULT]')
  })

  it('strings render per variables; text without a tag is itself', () => {
    const env = templateEnvironment(join(dir, 'keystone'))
    expect(renderTemplateString(env, 'port {{ p }}', {p: 1})).toBe('port 1')
    expect(renderTemplateString(env, 'port {{ p }}', {p: 2})).toBe('port 2')
    expect(renderTemplateString(env, '/etc/localtime:/etc/localtime:ro', {})).toBe('/etc/localtime:/etc/localtime:ro')
    expect(() => renderTemplateString(env, '{{ nope }}', {})).toThrow(/undefined|null/)
  })

  it('service.yml is parsed once for the registry and the catalog, and a changed file anew', async () => {
    const file = join(dir, 'memcached', 'service.yml')
    expect(serviceRegistry(dir).services).toContain('memcached')
    expect((await loadCatalog(dir)).get('memcached')?.depends).toEqual([])
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^depends:.*$/m, '').replace(/^name: memcached$/m, 'name: memcached\ndepends: [mariadb]'))
    expect((await loadCatalog(dir)).get('memcached')?.depends).toEqual(['mariadb'])
    await writeFile(file, `${await readFile(file, 'utf8')}name: again\n`)
    const err = await loadCatalog(dir).then(() => undefined, (e: unknown) => e as OsctlErrors)
    expect(err?.errors[0].message).toBe('duplicate key name (first defined at line 1)')
  })
})
