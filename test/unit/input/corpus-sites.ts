import {execa} from 'execa'
import {chmod, mkdir, mkdtemp, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {requiredSecrets} from '../../../src/site/secrets.js'

/**
 * The malformed-input corpus: a valid base site and many ways to break it. Every password in the
 * base is a CANARY value, so a test can assert that no output ever contains one.
 */
export const CANARY = 'CANARY7f3e'

export interface SiteOptions {
  /** Two host addresses; TEST-NET by default (never contacted: validation must stop first). */
  addresses?: [string, string]
  sshPort?: number
  registry?: string
}

export function baseFiles(o: SiteOptions = {}): Record<string, string> {
  const [a, b] = o.addresses ?? ['192.0.2.10', '192.0.2.11']
  return {
    'osctl.yml': lines(`registry: ${o.registry ?? '192.0.2.10:4000'}`, 'enabled_services: [etcd, registry, mariadb, memcached, keystone]', 'ssh_host_key_policy: strict'),
    'inventory.yml': lines(
      'defaults:',
      '  ssh_key: id_ed25519',
      ...(o.sshPort ? [`  ssh_port: ${o.sshPort}`] : []),
      'hosts:',
      '  node-1:',
      `    address: ${a}`,
      '  node-2:',
      `    address: ${b}`,
      'groups:',
      '  deploy: [node-1]',
      '  control: [node-1]',
      '  compute: [node-2]',
    ),
    'passwords.yml': lines(...requiredSecrets().map((k) => `${k}: ${CANARY}-${k}`)),
    id_ed25519: 'dummy key: validation never reads it\n',
    known_hosts: '',
  }
}

export const lines = (...l: string[]) => l.join('\n') + '\n'

/** One corpus entry: how to break the base site, and where the error must point. */
export interface SiteCase {
  name: string
  files?: Record<string, string | null>
  setup?: (dir: string) => Promise<void>
  flags?: {services?: string[]; limit?: string}
  /** Matched against every reported location (file:line:col, file, or --flag). */
  where: RegExp
  message?: RegExp
  /** Bound on the validation time (default 10 s; a case takes well under 1 s on an idle machine). */
  maxMs?: number
  /** A value from the site that must never appear in any output (besides the CANARY passwords). */
  secret?: string
}

/** Writes the base site with a case applied into a fresh temp dir. */
export async function writeSite(c: SiteCase, o: SiteOptions = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'osctl-corpus-'))
  for (const [name, text] of Object.entries({...baseFiles(o), ...c.files})) {
    if (text === null) continue
    await mkdir(join(dir, name, '..'), {recursive: true})
    await writeFile(join(dir, name), text)
  }
  await chmod(join(dir, 'passwords.yml'), 0o600).catch(() => undefined)
  await c.setup?.(dir)
  return dir
}

const osctl = (...extra: string[]) => lines('registry: 192.0.2.10:4000', 'enabled_services: [etcd, registry, mariadb, memcached, keystone]', ...extra)
const inventory = (...hostsAndGroups: string[]) => lines('defaults:', '  ssh_key: id_ed25519', ...hostsAndGroups)
const HOSTS = ['hosts:', '  node-1:', '    address: 192.0.2.10', '  node-2:', '    address: 192.0.2.11']
const GROUPS = ['groups:', '  deploy: [node-1]', '  control: [node-1]', '  compute: [node-2]']
const passwords = (...extra: string[]) => lines(...requiredSecrets().filter((k) => !extra.some((e) => e.startsWith(`${k}:`))).map((k) => `${k}: ${CANARY}-${k}`), ...extra)
const bomb = (key: string) => ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`), `${key}: *g`]
const link = (name: string, target: string) => async (dir: string) => {
  await rm(join(dir, name), {force: true, recursive: true})
  await mkdir(join(dir, name, '..'), {recursive: true})
  await symlink(target, join(dir, name))
}
const fifo = (name: string) => async (dir: string) => {
  await rm(join(dir, name), {force: true})
  await mkdir(join(dir, name, '..'), {recursive: true})
  await execa('mkfifo', [join(dir, name)])
}
const override = (rel: string, text: string | Buffer) => async (dir: string) => {
  await mkdir(join(dir, 'overrides', rel, '..'), {recursive: true})
  await writeFile(join(dir, 'overrides', rel), text)
}
const at = (file: string, line?: number) => new RegExp(`${file.replace(/[.]/g, '\\.')}${line === undefined ? '(:\\d+)*' : `:${line}(:\\d+)?`}$`)

const YAML_SYNTAX = ['key: [a, b', 'key: "unterminated', 'key: value: other', 'a:\n\t- tab', 'a: 1\n---\nb: 2', '- a\nb: c', '"key: x', 'a: {b: c']

export function siteCases(): SiteCase[] {
  const cases: SiteCase[] = []
  const add = (c: SiteCase) => cases.push(c)

  // YAML syntax errors in each file, and what the parser accepts but cannot resolve.
  for (const file of ['osctl.yml', 'inventory.yml', 'passwords.yml']) {
    for (const [i, text] of YAML_SYNTAX.entries()) add({name: `${file}: YAML syntax ${i + 1}`, files: {[file]: text + '\n'}, where: at(file), message: /YAML syntax error|must be a mapping/})
    add({name: `${file}: unknown alias`, files: {[file]: lines('x: *nowhere')}, where: at(file, 1), message: /unknown alias \*nowhere/})
    add({name: `${file}: alias bomb`, files: {[file]: lines(...bomb('x'))}, where: at(file, 2), message: /aliases expand too far/})
  }

  // Wrong types and values in osctl.yml.
  const cfg: Array<[string, string]> = [
    ['registry: 123', 'registry'], ['registry: [a, b]', 'registry'], ['registry: host-without-port', 'registry'], ['registry: ":4000"', 'registry'],
    ['registry: "[::1]:99999"', 'registry'], ['registry: 10.0.0.256:4000', 'registry'], ['ssh_concurrency: "10"', 'ssh_concurrency'], ['ssh_concurrency: 0', 'ssh_concurrency'],
    ['ssh_concurrency: 100000', 'ssh_concurrency'], ['image_pull_concurrency: 1.5', 'image_pull_concurrency'], ['ssh_host_key_policy: yes', 'ssh_host_key_policy'], ['apt_mirror: ftp://deb.debian.org', 'apt_mirror'],
    ['namespace: UPPER', 'namespace'], ['image_tag: "a b"', 'image_tag'], ['image_tag: ../../x', 'image_tag'], ['image_tag: ""', 'image_tag'],
    ['network_interface: eth0/1', 'network_interface'], ['openstack_release: ""', 'openstack_release'], ['ssh_known_hosts: ""', 'ssh_known_hosts'],
  ]
  for (const [line, key] of cfg) {
    const replaced = line.startsWith('registry:') ? lines(line, 'enabled_services: [etcd, registry, mariadb, memcached, keystone]') : osctl(line)
    add({name: `osctl.yml: ${line}`, files: {'osctl.yml': replaced}, where: at('osctl.yml', line.startsWith('registry:') ? 1 : 3), message: new RegExp(`^${key}`)})
  }
  add({name: 'osctl.yml: enabled_services is a string', files: {'osctl.yml': osctl().replace(/enabled_services: .*/, 'enabled_services: keystone')}, where: at('osctl.yml', 2)})
  add({name: 'osctl.yml: unknown service nvoa', files: {'osctl.yml': osctl().replace('keystone]', 'keystone, nvoa]')}, where: at('osctl.yml', 2), message: /not "nvoa"/})
  add({name: 'osctl.yml: a service listed twice', files: {'osctl.yml': osctl().replace('keystone]', 'keystone, keystone]')}, where: at('osctl.yml', 2)})

  // Unknown keys and duplicates.
  add({name: 'osctl.yml: registy typo', files: {'osctl.yml': lines('registy: 192.0.2.10:4000', 'registry: 192.0.2.10:4000')}, where: at('osctl.yml', 1), message: /unknown key registy/})
  add({name: 'osctl.yml: unknown key', files: {'osctl.yml': osctl('flavour: large')}, where: at('osctl.yml', 3)})
  add({name: 'inventory.yml: adress typo', files: {'inventory.yml': inventory('hosts:', '  node-1:', '    adress: 192.0.2.10', '    address: 192.0.2.10', '  node-2: {address: 192.0.2.11}', ...GROUPS)}, where: at('inventory.yml', 5)})
  add({name: 'inventory.yml: defaults ssh_usr', files: {'inventory.yml': inventory('  ssh_usr: admin', ...HOSTS, ...GROUPS)}, where: at('inventory.yml', 3)})
  add({name: 'inventory.yml: top-level host:', files: {'inventory.yml': inventory('host:', ...HOSTS, ...GROUPS)}, where: at('inventory.yml', 3)})
  add({name: 'osctl.yml: duplicate key', files: {'osctl.yml': osctl('registry: 192.0.2.11:4000')}, where: at('osctl.yml', 3), message: /duplicate key registry/})
  add({name: 'inventory.yml: duplicate host', files: {'inventory.yml': inventory(...HOSTS, '  node-1:', '    address: 192.0.2.12', ...GROUPS)}, where: at('inventory.yml', 8)})
  add({name: 'inventory.yml: duplicate group', files: {'inventory.yml': inventory(...HOSTS, ...GROUPS, '  control: [node-2]')}, where: at('inventory.yml', 12)})
  add({name: 'inventory.yml: a group lists a host twice', files: {'inventory.yml': inventory(...HOSTS, 'groups:', '  deploy: [node-1]', '  control: [node-1, node-1]', '  compute: [node-2]')}, where: at('inventory.yml', 10)})
  add({name: 'passwords.yml: duplicate key', files: {'passwords.yml': `${passwords()}database_password: ${CANARY}-again\n`}, where: at('passwords.yml'), message: /duplicate password database_password/})

  // Addresses, ports, users.
  for (const [value, line] of [['10.0.0.256', 6], ['"bad host"', 6], ['""', 6], ['999.1.1.1', 6], ['-x.example.org', 6], ['[a, b]', 6], ['http://192.0.2.10', 6]] as const) {
    add({name: `inventory.yml: address ${value}`, files: {'inventory.yml': inventory('hosts:', '  node-1:', `    address: ${value}`, '  node-2: {address: 192.0.2.11}', ...GROUPS)}, where: at('inventory.yml', line - 1)})
  }
  add({name: 'inventory.yml: two hosts with one address', files: {'inventory.yml': inventory('hosts:', '  node-1: {address: 192.0.2.10}', '  node-2: {address: 192.0.2.10}', ...GROUPS)}, where: at('inventory.yml', 5), message: /same address/})
  for (const port of ['0', '70000', '"22"', '22.5', 'ssh']) {
    add({name: `inventory.yml: ssh_port ${port}`, files: {'inventory.yml': inventory(`  ssh_port: ${port}`, ...HOSTS, ...GROUPS)}, where: at('inventory.yml', 3)})
  }
  add({name: 'inventory.yml: ssh_user with a shell metacharacter', files: {'inventory.yml': inventory('  ssh_user: "root;rm -rf /"', ...HOSTS, ...GROUPS)}, where: at('inventory.yml', 3)})

  // Inventory structure.
  add({name: 'inventory.yml: no hosts', files: {'inventory.yml': lines('hosts: {}', 'groups: {deploy: [], control: []}')}, where: at('inventory.yml', 1)})
  add({name: 'inventory.yml: hosts is a list', files: {'inventory.yml': lines('hosts:', '  - node-1', 'groups: {}')}, where: at('inventory.yml', 2)})
  add({name: 'inventory.yml: a host in no group', files: {'inventory.yml': inventory(...HOSTS, '  node-3: {address: 192.0.2.12}', ...GROUPS)}, where: at('inventory.yml', 8)})
  add({name: 'inventory.yml: a group names an unknown host', files: {'inventory.yml': inventory(...HOSTS, 'groups:', '  deploy: [node-1]', '  control: [node-1]', '  compute: [node-2, node-9]')}, where: at('inventory.yml', 11)})
  add({name: 'inventory.yml: two deploy hosts', files: {'inventory.yml': inventory(...HOSTS, 'groups:', '  deploy: [node-1, node-2]', '  control: [node-1]', '  compute: [node-2]')}, where: at('inventory.yml', 9)})
  add({name: 'inventory.yml: a group named like a host', files: {'inventory.yml': inventory(...HOSTS, ...GROUPS, '  node-1: [node-1]')}, where: at('inventory.yml', 12)})
  add({name: 'inventory.yml: contorl', files: {'inventory.yml': inventory(...HOSTS, 'groups:', '  deploy: [node-1]', '  contorl: [node-1]', '  compute: [node-2]')}, where: at('inventory.yml', 10), message: /did you mean control/})
  add({name: 'inventory.yml: empty control', files: {'inventory.yml': inventory(...HOSTS, 'groups:', '  deploy: [node-1]', '  control: []', '  compute: [node-1, node-2]')}, where: at('inventory.yml', 10), message: /control is empty/})
  add({name: 'inventory.yml: no deploy group', files: {'inventory.yml': inventory(...HOSTS, 'groups:', '  control: [node-1]', '  compute: [node-2]')}, where: at('inventory.yml', 8), message: /deploy is missing/})
  add({name: 'inventory.yml: a host name with a space', files: {'inventory.yml': inventory('hosts:', '  "node 1": {address: 192.0.2.10}', '  node-2: {address: 192.0.2.11}', 'groups:', '  deploy: [node-2]', '  control: [node-2]', '  compute: ["node 1"]')}, where: at('inventory.yml', 4)})

  // Files that are missing, the wrong kind, too big, endless, binary or unreadable.
  add({name: 'osctl.yml missing', files: {'osctl.yml': null}, where: at('osctl.yml'), message: /does not exist/})
  add({name: 'inventory.yml missing', files: {'inventory.yml': null}, where: at('inventory.yml'), message: /does not exist/})
  add({name: 'osctl.yml empty', files: {'osctl.yml': ''}, where: at('osctl.yml', 1)})
  add({name: 'osctl.yml is a list', files: {'osctl.yml': lines('- registry: x')}, where: at('osctl.yml', 1)})
  add({name: 'osctl.yml is a directory', setup: async (d) => (await rm(join(d, 'osctl.yml')), await mkdir(join(d, 'osctl.yml'))), where: at('osctl.yml'), message: /is a directory/})
  add({name: 'osctl.yml -> /dev/zero', setup: link('osctl.yml', '/dev/zero'), where: at('osctl.yml'), message: /character device/})
  add({name: 'inventory.yml -> /dev/urandom', setup: link('inventory.yml', '/dev/urandom'), where: at('inventory.yml'), message: /character device/})
  add({name: 'osctl.yml is a named pipe (endless)', setup: fifo('osctl.yml'), where: at('osctl.yml'), message: /named pipe/})
  add({name: 'osctl.yml 5 MiB', files: {'osctl.yml': `registry: 192.0.2.10:4000\n# ${'x'.repeat(5 * 1024 * 1024)}\n`}, where: at('osctl.yml'), message: /too big/})
  add({name: 'passwords.yml 5 MiB', files: {'passwords.yml': `a: ${CANARY}${'y'.repeat(5 * 1024 * 1024)}\n`}, where: at('passwords.yml'), message: /too big/})
  add({name: 'osctl.yml with a NUL byte', files: {'osctl.yml': 'registry: 192.0.2.10:4000\nnamespace: a\0b\n'}, where: at('osctl.yml', 2), message: /not a text file/})
  add({name: 'inventory.yml not UTF-8', setup: async (d) => writeFile(join(d, 'inventory.yml'), Buffer.from([0x68, 0x6f, 0x73, 0x74, 0x73, 0x3a, 0x0a, 0xff, 0xfe, 0x0a])), where: at('inventory.yml', 2), message: /not UTF-8/})
  add({name: 'osctl.yml symlink loop', setup: async (d) => (await rm(join(d, 'osctl.yml')), await symlink(join(d, 'osctl.yml'), join(d, 'osctl.yml'))), where: at('osctl.yml'), message: /loop/})
  add({name: 'osctl.yml dangling symlink', setup: link('osctl.yml', '/nonexistent/osctl.yml'), where: at('osctl.yml'), message: /does not exist/})
  add({name: 'passwords.yml is a directory', setup: async (d) => (await rm(join(d, 'passwords.yml')), await mkdir(join(d, 'passwords.yml'))), where: at('passwords.yml'), message: /directory/})
  add({name: 'passwords.yml mode 0644', setup: (d) => chmod(join(d, 'passwords.yml'), 0o644), where: at('passwords.yml'), message: /not private \(mode 0644\)/})
  add({name: 'passwords.yml mode 0640', setup: (d) => chmod(join(d, 'passwords.yml'), 0o640), where: at('passwords.yml'), message: /not private/})
  add({name: 'ssh key file missing', files: {id_ed25519: null}, where: at('inventory.yml', 2), message: /SSH key file .* does not exist/})
  add({name: 'ssh key file is a directory', setup: async (d) => (await rm(join(d, 'id_ed25519')), await mkdir(join(d, 'id_ed25519'))), where: at('inventory.yml', 2), message: /not a regular file/})
  add({name: 'ssh key path through a file', files: {'inventory.yml': inventory(...HOSTS.slice(0, 3), '    ssh_key: /etc/passwd/key', ...HOSTS.slice(3), ...GROUPS)}, where: at('inventory.yml', 6), message: /does not exist/})

  // Passwords: wrong kinds of value (never echoed), typos, what deploy needs.
  for (const [value, kind, secret] of [['918273645', 'a number', '918273645'], ['true', 'true or false', undefined], ['[sekrit-a, sekrit-b]', 'a list', 'sekrit'], ['{private_key: PRIVKEY-x, public_key: p}', 'a mapping', 'PRIVKEY'], ['', 'nothing', undefined]] as const) {
    add({name: `passwords.yml: database_password ${value || '(empty)'}`, files: {'passwords.yml': passwords(`database_password: ${value}`)}, where: at('passwords.yml'), message: new RegExp(`database_password (must be a string, not ${kind}|has no value)`), secret})
  }
  add({name: 'passwords.yml: misspelt key', files: {'passwords.yml': passwords(`keystone_admin_pasword: ${CANARY}-typo`).replace(/^keystone_admin_password:.*\n/m, '')}, where: at('passwords.yml'), message: /did you mean keystone_admin_password/})
  add({name: 'passwords.yml: a needed password missing', files: {'passwords.yml': passwords().replace(/^keystone_database_password:.*\n/m, '')}, where: at('passwords.yml'), message: /keystone_database_password is missing/})

  // Overrides: unknown targets, not INI, links out of the site, devices, size, binary, depth.
  add({name: 'overrides: unknown service', setup: override('keystnoe/keystone.conf', '[DEFAULT]\n'), where: /overrides\/keystnoe\/keystone\.conf$/, message: /unknown service/})
  add({name: 'overrides: unknown host', setup: override('keystone/node-9/keystone.conf', '[DEFAULT]\n'), where: /keystone\.conf$/, message: /unknown host node-9/})
  add({name: 'overrides: unknown file', setup: override('keystone/keystone.ini', '[DEFAULT]\n'), where: /keystone\.ini$/, message: /renders no keystone\.ini/})
  add({name: 'overrides: top-level file not .conf', setup: override('keystone.yaml', 'a: b\n'), where: /keystone\.yaml$/})
  add({name: 'overrides: glance.conf (glance renders glance-api.conf)', setup: override('glance.conf', '[DEFAULT]\n'), where: /glance\.conf$/})
  add({name: 'overrides: YAML in an INI file', setup: override('keystone.conf', `[DEFAULT]\ndebug: true\npassword: ${CANARY}\n`), where: /keystone\.conf:2$/, message: /not an INI line/})
  add({name: 'overrides: prose in an INI file', setup: override('keystone/keystone.conf', '[DEFAULT]\nplease enable debug\n'), where: /keystone\.conf:2$/})
  add({name: 'overrides: unclosed section', setup: override('keystone.conf', '[DEFAULT\nx = 1\n'), where: /keystone\.conf:1$/})
  add({name: 'overrides: symlink to /etc/passwd', setup: link('overrides/keystone/keystone.conf', '/etc/passwd'), where: /keystone\.conf$/, message: /symbolic link/})
  add({name: 'overrides: symlink out of the site (../../)', setup: link('overrides/keystone.conf', '../../../../../etc/shadow'), where: /keystone\.conf$/, message: /symbolic link/})
  add({name: 'overrides: symlink to /dev/zero', setup: link('overrides/keystone/keystone.conf', '/dev/zero'), where: /keystone\.conf$/, message: /symbolic link/})
  add({name: 'overrides: a directory symlink', setup: link('overrides/keystone', '/etc'), where: /overrides\/keystone$/, message: /symbolic link/})
  add({name: 'overrides: named pipe', setup: fifo('overrides/keystone/keystone.conf'), where: /keystone\.conf$/, message: /not a regular file/})
  add({name: 'overrides: 2 MiB file', setup: override('keystone.conf', `[DEFAULT]\n${'x = 1\n'.repeat(350_000)}`), where: /keystone\.conf$/, message: /too big/})
  add({name: 'overrides: binary file', setup: override('keystone/keystone.conf', Buffer.from([0x5b, 0x41, 0x5d, 0x0a, 0x00, 0x01, 0x02])), where: /keystone\.conf:2$/, message: /not a text file/})
  add({name: 'overrides: nested too deep', setup: override('keystone/node-1/extra/keystone.conf', '[DEFAULT]\n'), where: /overrides\/keystone\/node-1\/extra$/, message: /nested too deep/})
  add({name: 'overrides is a file', setup: async (d) => writeFile(join(d, 'overrides'), 'not a dir\n'), where: /overrides$/, message: /not a directory/})

  // The deploy plan and the host selection.
  add({name: 'keystone enabled without mariadb', files: {'osctl.yml': lines('registry: 192.0.2.10:4000', 'enabled_services:', '  - etcd', '  - registry', '  - memcached', '  - keystone')}, where: at('osctl.yml', 6), message: /depends on mariadb/})
  add({name: '--services unknown', flags: {services: ['keystnoe']}, where: /^--services$/, message: /unknown service keystnoe/})
  add({name: '--services a system container', flags: {services: ['etcd']}, where: /^--services$/, message: /system container/})
  add({name: '--limit unknown host', flags: {limit: 'node-9'}, where: /^--limit$/, message: /unknown host or group node-9/})
  add({name: '--limit only commas', flags: {limit: ' , '}, where: /^--limit$/, message: /--limit is empty/})
  add({name: 'site dir does not exist', setup: async (d) => rm(d, {recursive: true, force: true}), where: /osctl-corpus-\w+$/, message: /does not exist/})

  // Size: tens of thousands of problems are found in linear time and listed capped.
  add({
    name: '40 000 unknown keys',
    files: {'osctl.yml': osctl(...Array.from({length: 40_000}, (_, i) => `unknown_key_${i}: ${i}`))},
    where: at('osctl.yml'),
    maxMs: 30_000,
  })
  add({
    name: '20 000 hosts in no group',
    files: {'inventory.yml': inventory(...HOSTS, ...Array.from({length: 20_000}, (_, i) => `  extra-${i}: {address: 10.${i >> 8}.${i & 255}.1}`), ...GROUPS)},
    where: at('inventory.yml'),
    maxMs: 30_000,
  })
  return cases
}

