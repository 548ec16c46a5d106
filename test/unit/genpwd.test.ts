import {chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'
import {afterEach, describe, expect, it} from 'vitest'

import {OsctlErrors} from '../../src/errors.js'
import {generatePasswords, randomSecret} from '../../src/site/genpwd.js'
import {requiredSecrets} from '../../src/site/secrets.js'
import {makeSite, yaml} from '../fixtures/sites/make-site.js'
import {runCli} from '../helpers/cli.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, {recursive: true, force: true})))
})
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'osctl-genpwd-'))
  dirs.push(dir)
  return dir
}
const mode = async (file: string) => (await stat(file)).mode & 0o777

describe('generatePasswords', () => {
  it('creates passwords.yml with every required secret, 32 url-safe chars, mode 0600', async () => {
    const file = join(await tempDir(), 'passwords.yml')
    const r = await generatePasswords(file)
    expect(r).toEqual({added: [...requiredSecrets()], kept: []})
    const data = parse(await readFile(file, 'utf8')) as Record<string, string>
    expect(Object.keys(data).sort()).toEqual([...requiredSecrets()].sort())
    for (const value of Object.values(data)) expect(value).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(new Set(Object.values(data)).size).toBe(requiredSecrets().length)
    expect(await mode(file)).toBe(0o600)
  })

  it('never overwrites, keeps unknown keys and comments, fills empty placeholders', async () => {
    const file = join(await tempDir(), 'passwords.yml')
    const original = yaml(
      '# site secrets, edited by hand',
      'keystone_admin_password: keep-me # chosen by the operator',
      'custom_thing: also-kept',
      '# placeholder below',
      'nova_keystone_password:',
      "rabbitmq_password: ''",
    )
    await writeFile(file, original, {mode: 0o644})
    const r = await generatePasswords(file)
    expect(r.kept).toEqual(['keystone_admin_password'])
    expect(r.added).toHaveLength(requiredSecrets().length - 1)
    expect(r.added).toContain('nova_keystone_password')
    expect(r.added).toContain('rabbitmq_password')
    const text = await readFile(file, 'utf8')
    expect(text).toContain('# site secrets, edited by hand')
    expect(text).toContain('keystone_admin_password: keep-me # chosen by the operator')
    expect(text).toContain('# placeholder below')
    const data = parse(text) as Record<string, string>
    expect(data.custom_thing).toBe('also-kept')
    expect(data.nova_keystone_password).toMatch(/^[A-Za-z0-9]{32}$/)
    expect(await mode(file)).toBe(0o600)
  })

  it('adds nothing on a second run and leaves the file byte-identical, but tightens its mode', async () => {
    const file = join(await tempDir(), 'passwords.yml')
    await generatePasswords(file)
    const first = await readFile(file, 'utf8')
    await chmod(file, 0o644)
    const r = await generatePasswords(file)
    expect(r).toEqual({added: [], kept: [...requiredSecrets()]})
    expect(await readFile(file, 'utf8')).toBe(first)
    expect(await mode(file)).toBe(0o600)
  })

  it('reports a YAML error with file:line and changes nothing (no temp files left)', async () => {
    const dir = await tempDir()
    const file = join(dir, 'passwords.yml')
    const broken = yaml('database_password: x', 'nova_password: [unclosed', 'other: y')
    await writeFile(file, broken, {mode: 0o644})
    const err = await generatePasswords(file).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OsctlErrors)
    expect((err as OsctlErrors).errors[0]).toMatchObject({code: 'CONFIG_INVALID', location: `${file}:3:1`})
    expect(await readFile(file, 'utf8')).toBe(broken)
    expect(await mode(file)).toBe(0o644)
    expect(await readdir(dir)).toEqual(['passwords.yml'])
  })

  it('refuses a duplicate key and a file that is not a mapping', async () => {
    const file = join(await tempDir(), 'passwords.yml')
    await writeFile(file, yaml('database_password: a', 'database_password: b'))
    await expect(generatePasswords(file)).rejects.toMatchObject({message: 'duplicate password database_password (first defined at line 1)', location: `${file}:2:1`})
    await writeFile(file, yaml('- a', '- b'))
    await expect(generatePasswords(file)).rejects.toMatchObject({code: 'CONFIG_INVALID', location: `${file}:1:1`})
  })

  it('draws secrets uniformly from 62 symbols', () => {
    const seen = new Set(Array.from({length: 200}, () => randomSecret()).join(''))
    expect(seen.size).toBe(62)
  })
})

describe('osctl genpwd (CLI)', () => {
  it('fills passwords.yml of a valid site and reports JSON', async () => {
    const dir = await makeSite()
    dirs.push(dir)
    const r = await runCli(['genpwd', '--site', dir, '--json'])
    // --json: no progress lines (stderr may carry unrelated Node warnings, so look for ours).
    expect(r.stderr).not.toContain('secrets added')
    expect(r.exitCode).toBe(0)
    const out = JSON.parse(r.stdout) as {passwordsFile: string; added: string[]; kept: string[]}
    expect(out.passwordsFile).toBe(join(dir, 'passwords.yml'))
    expect(out.kept).toEqual(['keystone_admin_password'])
    expect(out.added).toHaveLength(requiredSecrets().length - 1)
  })

  it('prints the counts on stderr without --json, and works with only the site dir present', async () => {
    const dir = await tempDir()
    const r = await runCli(['genpwd'], {env: {OSCTL_SITE: dir}})
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`${join(dir, 'passwords.yml')} ${requiredSecrets().length} secrets added, 0 kept`)
    expect(await mode(join(dir, 'passwords.yml'))).toBe(0o600)
  })

  it('refuses a broken inventory with exit code 2, file:line and a hint, without a stack trace', async () => {
    const inv = yaml('hosts:', '  lab-1:', '    address: 10.213.0.2', '  lab-2:', '    address: 10.213.0.3', 'groups:', '  control: [lab-1, lab-9]')
    const dir = await makeSite({'inventory.yml': inv, 'passwords.yml': null})
    dirs.push(dir)
    const r = await runCli(['genpwd', '--site', dir])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain(`${join(dir, 'inventory.yml')}:4:3: host lab-2 is in no group`)
    expect(r.stderr).toContain(`${join(dir, 'inventory.yml')}:7:20: group control names unknown host lab-9`)
    expect(r.stderr).toMatch(/Hint: /)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    await expect(stat(join(dir, 'passwords.yml'))).rejects.toMatchObject({code: 'ENOENT'})
  })

  it('reports a YAML error in passwords.yml as JSON with its location and changes nothing', async () => {
    const dir = await makeSite({'passwords.yml': yaml('a: b', 'c: "unterminated')})
    dirs.push(dir)
    const r = await runCli(['genpwd', '--site', dir, '--json'])
    expect(r.exitCode).toBe(2)
    const out = JSON.parse(r.stdout) as {ok: boolean; error: {code: string; location: string}}
    expect(out.ok).toBe(false)
    expect(out.error.code).toBe('CONFIG_INVALID')
    // yaml reports an unterminated quote where the input ends.
    expect(out.error.location).toMatch(/passwords\.yml:3:1$/)
    expect(await readFile(join(dir, 'passwords.yml'), 'utf8')).toBe(yaml('a: b', 'c: "unterminated'))
  })

  it('fails with exit code 2 when the site dir does not exist', async () => {
    const dir = join(await tempDir(), 'missing')
    const r = await runCli(['genpwd', '--site', dir])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain(`Error: ${dir}: site directory ${dir} does not exist`)
    expect(r.stderr).toContain('osctl lab up')
    await mkdir(dir) // the fix the hint describes works
    expect((await runCli(['genpwd', '--site', dir])).exitCode).toBe(0)
  })

  it('shows the exit-code table in --help', async () => {
    const r = await runCli(['genpwd', '--help'])
    expect(r.stdout).toContain('EXIT CODES')
    expect(r.stdout).toContain('--site')
  })
})
