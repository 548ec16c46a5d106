import nunjucks from 'nunjucks'
import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {parseDocument, visit} from 'yaml'

import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {TEMPLATE_CACHE_FILE, cacheKey} from '../../../src/catalog/template-cache.js'
import {precompileTemplates, readPrecompiled} from '../../../src/catalog/template-env.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {testSite} from '../../fakes/site.js'

const OPTIONS = {autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true}
const {compiler} = nunjucks as unknown as {compiler: {compile(src: string, a: string[], e: unknown[], name: string, opts: object): string}}

// `npm run build` compiles templates/ ahead (dist/templates.compiled.json): what it stores must be
// exactly nunjucks' output for that path and text, and an edited text must never find old code.
describe('precompiled templates', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'osctl-precompiled-'))
    await cp(TEMPLATES_DIR, join(dir, 'templates'), {recursive: true})
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  it('holds each template file by path and text, and the tagged strings of service.yml by text', async () => {
    const file = join(dir, 'cache.json')
    const count = precompileTemplates({dir: join(dir, 'templates'), file})
    const cache = readPrecompiled(file)!
    expect(cache.size).toBe(count)
    const conf = join(dir, 'templates', 'keystone', 'keystone.conf.njk')
    const text = await readFile(conf, 'utf8')
    expect(cache.get(cacheKey(text, conf))).toBe(compiler.compile(text, [], [], conf, OPTIONS))
    // The same text elsewhere (another templates dir) and an edited text are other keys.
    expect(cache.has(cacheKey(text, join(TEMPLATES_DIR, 'keystone', 'keystone.conf.njk')))).toBe(false)
    expect(cache.has(cacheKey(`${text}# edited\n`, conf))).toBe(false)
    const tagged: string[] = []
    visit(parseDocument(await readFile(join(dir, 'templates', 'keystone', 'service.yml'), 'utf8')), {
      Scalar: (_k, n) => void (typeof n.value === 'string' && n.value.includes('{{') && tagged.push(n.value)),
    })
    expect(tagged.length).toBeGreaterThan(0)
    for (const text of tagged) expect(cache.get(cacheKey(text, undefined)), text).toBe(compiler.compile(text, [], [], '', OPTIONS))
  })

  it('a template that does not compile is left out, and a file of another compiler is not used', async () => {
    const bad = join(dir, 'templates', 'keystone', 'keystone.conf.njk')
    await writeFile(bad, '[DEFAULT]\ndebug = {% if %}\n')
    const file = join(dir, 'cache.json')
    precompileTemplates({dir: join(dir, 'templates'), file})
    expect(readPrecompiled(file)!.has(cacheKey('[DEFAULT]\ndebug = {% if %}\n', bad))).toBe(false)
    const cache = JSON.parse(await readFile(file, 'utf8'))
    await writeFile(file, JSON.stringify({...cache, compiler: 'nunjucks 0.0.0 {}'}))
    expect(readPrecompiled(file)).toBeNull()
    expect(readPrecompiled(join(dir, 'missing.json'))).toBeNull()
  })

  it('renders from the build cache (templates/, built by the global setup) what compiling a copy renders', async () => {
    const site = testSite()
    const render = async (templates: string) => {
      const plan = planDeploy(site, await loadCatalog(templates), Overrides.empty(), {targets: site.hosts})
      return plan.services.map((s) => [s.def.name, [...s.rendered.values()].map((r) => r.containers.map((c) => c.files))])
    }
    expect(readPrecompiled(TEMPLATE_CACHE_FILE)?.size ?? 0, 'dist/templates.compiled.json').toBeGreaterThan(0)
    expect(await render(TEMPLATES_DIR)).toEqual(await render(join(dir, 'templates')))
  })
})
