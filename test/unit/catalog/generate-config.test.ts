import {mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {GENERATED_MARKER, generateConfig} from '../../../src/catalog/generate-config.js'
import {loadCatalog} from '../../../src/catalog/catalog.js'
import {Overrides} from '../../../src/catalog/overrides.js'
import {planDeploy} from '../../../src/catalog/plan.js'
import {OsctlError} from '../../../src/errors.js'
import {TEMPLATES_DIR} from '../../../src/paths.js'
import {testSite} from '../../fakes/site.js'

const dirs: string[] = []
afterAll(async () => Promise.all(dirs.map((d) => rm(d, {recursive: true, force: true}))))
const scratch = async () => {
  const d = await mkdtemp(join(tmpdir(), 'osctl-gen-'))
  dirs.push(d)
  return d
}

describe('config generate', () => {
  const plan = async (services?: string[]) => {
    const site = testSite()
    return planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services, targets: site.hosts})
  }

  it('writes OUT/<host>/<container>/ exactly as rendered for that host, 0600 files in 0700 dirs', async () => {
    const p = await plan()
    const out = join(await scratch(), 'tree')
    const r = await generateConfig(p, out)
    expect(r.hosts.map((h) => h.host)).toEqual(['lab-1', 'lab-2'])
    expect(r.hosts[1].containers.map((c) => c.container)).toEqual(['memcached', 'keystone', 'glance-api', 'placement-api', 'nova-api', 'nova-conductor', 'nova-scheduler', 'nova-metadata'])
    const rendered = p.services.find((s) => s.def.name === 'keystone')!.rendered.get('lab-2')!.containers[0].files
    for (const [file, text] of Object.entries(rendered)) expect(await readFile(join(out, 'lab-2', 'keystone', file), 'utf8')).toBe(text)
    expect(r.files).toBe(p.services.flatMap((s) => [...s.rendered.values()]).flatMap((x) => x.containers).reduce((n, c) => n + Object.keys(c.files).length, 0))
    expect((await stat(join(out, 'lab-1', 'keystone', 'keystone.conf'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(out, 'lab-1', 'keystone'))).mode & 0o777).toBe(0o700)
    expect((await readdir(out)).sort()).toEqual([GENERATED_MARKER, 'lab-1', 'lab-2'])
  })

  it('replaces its own earlier output host by host, refuses any other non-empty directory or a file', async () => {
    const base = await scratch()
    const out = join(base, 'tree')
    await generateConfig(await plan(), out)
    await writeFile(join(out, 'lab-1', 'stale'), 'x')
    await generateConfig(await plan(['memcached']), out)
    expect(await readdir(join(out, 'lab-1'))).toEqual(['memcached'])
    const other = join(base, 'other')
    await mkdir(other)
    await writeFile(join(other, 'notes.txt'), 'mine')
    const err = await generateConfig(await plan(), other).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OsctlError)
    expect(err).toMatchObject({exitCode: 2, location: '--out'})
    expect(await readdir(other)).toEqual(['notes.txt'])
    await expect(generateConfig(await plan(), join(other, 'notes.txt'))).rejects.toMatchObject({exitCode: 2, location: '--out'})
  })
})
