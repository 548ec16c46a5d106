import {createHash} from 'node:crypto'
import {execa} from 'execa'
import {cp, mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {DeployResult} from '../../../src/apply/deploy.js'
import {sshSession} from '../../../src/session/host-session.js'
import {loadSite} from '../../../src/site/load-site.js'
import {keystoneRegisterContract} from '../../contracts/keystone-register-contract.js'
import {swapContract} from '../../contracts/swap-contract.js'
import {REPO_ROOT, eventsOf, runCli} from '../../helpers/cli.js'
import {ensureOpenstackClient} from '../../helpers/openstack-client.js'

// One lab host running bootstrap's registry + etcd + Docker, then osctl's own OpenStack images,
// then mariadb, memcached, rabbitmq and keystone deployed for real and checked with Debian's
// `openstack` client from this machine.
const LAB = `d${process.pid}`
const HOST = `osctl-${LAB}-1`
const SERVICES = 'mariadb,memcached,rabbitmq,keystone'

const sh = async (script: string) => {
  const r = await execa('docker', ['exec', HOST, 'sh', '-c', script], {reject: false})
  return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
}

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('osctl deploy: mariadb, memcached, rabbitmq, keystone on a lab host', () => {
  let site: string
  const osctl = (args: string[], env: Record<string, string> = {}, timeoutMs = 900_000) => runCli(args, {env: {OSCTL_SITE: site, ...env}, timeoutMs})
  const openstack = (args: string[]) =>
    execa('openstack', ['--os-cloud', 'osctl', ...args], {reject: false, env: {OS_CLIENT_CONFIG_FILE: join(site, 'clouds.yaml')}, timeout: 60_000})
  const managedContainers = async () => (await sh('docker ps -aq --filter label=io.osctl.managed=true')).stdout.trim()

  beforeAll(async () => {
    // Fail loudly: a missing engine must not look like a pass.
    const info = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], {reject: false})
    if (info.exitCode !== 0) throw new Error(`Docker is not available (set OSCTL_SKIP_INTEGRATION=1 to skip): ${info.stderr}`)
    await ensureOpenstackClient()
    site = await mkdtemp(join(tmpdir(), 'osctl-deploy-site-'))
    const up = await runCli(['lab', 'up', '--hosts', '1', '--name', LAB, '--site', site, '--with-packages', '--json'], {timeoutMs: 900_000})
    expect(up.exitCode, up.stderr).toBe(0)
    const boot = await osctl(['bootstrap', '--json'])
    expect(boot.exitCode, boot.stderr + boot.stdout).toBe(0)
    const build = await osctl(['image', 'build', 'mariadb', 'memcached', 'rabbitmq', 'keystone', '--push'], {}, 1_800_000)
    expect(build.exitCode, build.stderr).toBe(0)
  })

  afterAll(async () => {
    await runCli(['lab', 'down', '--name', LAB], {timeoutMs: 300_000})
    if (site) await rm(site, {recursive: true, force: true})
  })

  it('refuses bad input with exit 2 before touching the host', async () => {
    const unknown = await osctl(['deploy', '--services', 'keystonee'])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toContain('unknown service keystonee')
    expect(unknown.stderr).toMatch(/known services: .*keystone/)

    const config = join(site, 'osctl.yml')
    const original = await readFile(config, 'utf8')
    await writeFile(config, `${original}enabled_services: [memcached, keystone]\n`)
    const disabled = await osctl(['deploy', '--services', 'keystone'])
    await writeFile(config, original)
    expect(disabled.exitCode).toBe(2)
    expect(disabled.stderr).toContain('service keystone depends on mariadb, which is not in enabled_services')

    const passwords = join(site, 'passwords.yml')
    const secrets = await readFile(passwords, 'utf8')
    await writeFile(passwords, secrets.replace(/^keystone_admin_password:.*\n/m, ''))
    const missing = await osctl(['deploy'])
    await writeFile(passwords, secrets)
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toContain('password keystone_admin_password')
    expect(missing.stderr).toContain('osctl genpwd')

    const templates = await mkdtemp(join(tmpdir(), 'osctl-bad-templates-'))
    try {
      await cp(join(REPO_ROOT, 'templates'), templates, {recursive: true})
      await writeFile(join(templates, 'keystone', 'keystone.conf.njk'), '[DEFAULT]\ndebug = {{ keystone_debug }}\n')
      const broken = await osctl(['deploy'], {OSCTL_TEMPLATES_DIR: templates})
      expect(broken.exitCode).toBe(2)
      expect(broken.stderr).toContain(`${join(templates, 'keystone', 'keystone.conf.njk')}:2: template error`)
    } finally {
      await rm(templates, {recursive: true, force: true})
    }
    expect(await managedContainers()).toBe('')
  })

  it('deploys the four services, and keystone answers the real openstack client', async () => {
    const started = Date.now()
    const r = await osctl(['deploy', '--services', SERVICES, '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout) as DeployResult
    expect(result.services.map((s) => `${s.service}:${s.containers.map((c) => c.status).join(',')}`)).toEqual(['mariadb:created', 'memcached:created', 'keystone:created', 'rabbitmq:created'])
    const wall = Date.now() - started
    console.log(`first deploy: ${(wall / 1000).toFixed(1)}s, critical path ${(result.criticalPathMs / 1000).toFixed(1)}s`)
    // The floor (the services' own work along their dependencies) is time spent inside this run.
    expect(result.criticalPathMs > 0 && result.criticalPathMs <= wall, `criticalPathMs ${result.criticalPathMs}, wall ${wall} ms`).toBe(true)
    expect((await sh('systemctl is-active osctl-svc-keystone osctl-svc-mariadb osctl-svc-rabbitmq osctl-svc-memcached')).stdout.split('\n').filter(Boolean)).toEqual(Array(4).fill('active'))
    expect((await sh("docker inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.NetworkMode}}' keystone")).stdout.trim()).toBe('no host')

    const post = await osctl(['post-deploy', '--json'])
    expect(post.exitCode, post.stderr).toBe(0)
    for (const f of ['clouds.yaml', 'admin-openrc.sh']) expect((await stat(join(site, f))).mode & 0o777).toBe(0o600)
    const token = await openstack(['token', 'issue', '-f', 'json'])
    expect(token.exitCode, token.stderr).toBe(0)
    expect(JSON.parse(token.stdout).id).toBeTruthy()
    const endpoints = await openstack(['endpoint', 'list', '-f', 'json'])
    expect(endpoints.exitCode, endpoints.stderr).toBe(0)
    expect((JSON.parse(endpoints.stdout) as Array<Record<string, string>>).filter((e) => e['Service Type'] === 'identity')).toHaveLength(3)

    const status = await osctl(['service', 'status', '--json'])
    expect(status.exitCode, status.stdout).toBe(0)
    expect(JSON.parse(status.stdout).rows).toHaveLength(4)
  })

  it('a second deploy recreates and restarts nothing', async () => {
    const before = (await sh("docker inspect -f '{{.Name}} {{.State.StartedAt}}' mariadb memcached rabbitmq keystone")).stdout
    const started = Date.now()
    const r = await osctl(['deploy', '--services', SERVICES, '--json'])
    expect(r.exitCode, r.stderr).toBe(0)
    console.log(`second deploy: ${((Date.now() - started) / 1000).toFixed(1)}s`)
    const result = JSON.parse(r.stdout) as DeployResult
    expect(result.recreated).toBe(0)
    expect(result.changed).toBe(false)
    expect((await sh("docker inspect -f '{{.Name}} {{.State.StartedAt}}' mariadb memcached rabbitmq keystone")).stdout).toBe(before)
    const text = await osctl(['deploy', '--services', SERVICES])
    expect(text.stdout).toContain('deploy: unchanged')
  })

  // osctl's own keystone registration (the other services' keystone-register step) against this
  // keystone, opened from the host over SSH as a deploy does; the same contract holds FakeKeystone.
  keystoneRegisterContract('keystone on the lab host, reached from the host over SSH', async () => {
    const s = await loadSite(site)
    const session = sshSession(s)
    const host = session.host(s.hosts[0])
    return {open: (a, p) => host.openTcp(a, p), authUrl: `http://${s.hosts[0].address}:5000/v3`, adminPassword: s.passwords.keystone_admin_password, region: 'RegionOne', close: () => session.close()}
  })

  it('a config override is a new revision, and service rollback restores the previous config exactly', async () => {
    const conf = '/etc/osctl/keystone/keystone.conf'
    const original = (await sh(`cat ${conf}`)).stdout
    await mkdir(join(site, 'overrides'), {recursive: true})
    await writeFile(join(site, 'overrides', 'keystone.conf'), '[token]\nexpiration = 7200\n')
    try {
      const r = await osctl(['deploy', '--services', SERVICES, '--json'])
      expect(r.exitCode, r.stderr).toBe(0)
      const keystone = (JSON.parse(r.stdout) as DeployResult).services.find((x) => x.service === 'keystone')!
      expect(keystone.containers[0]).toMatchObject({status: 'recreated', changed: ['config:keystone.conf']})
      expect((await sh(`cat ${conf}`)).stdout).toContain('expiration = 7200')

      const rb = await osctl(['service', 'rollback', 'keystone', '--json'])
      expect(rb.exitCode, rb.stderr).toBe(0)
      expect(JSON.parse(rb.stdout).results[0]).toMatchObject({from: 2, to: 1, recreated: ['keystone']})
      expect((await sh(`cat ${conf}`)).stdout).toBe(original)
      expect((await sh("docker inspect -f '{{.Config.Labels}}' keystone")).stdout).toContain('io.osctl.revision:1')
      expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)

      const hist = await osctl(['service', 'history', 'keystone', '--json'])
      expect(hist.exitCode, hist.stderr).toBe(0)
      const revs = JSON.parse(hist.stdout).hosts[0]
      expect(revs.current).toBe(1)
      expect(revs.revisions.map((x: {revision: number; outcome: string}) => [x.revision, x.outcome])).toEqual([[1, 'active'], [2, 'rolled-back']])
    } finally {
      await rm(join(site, 'overrides'), {recursive: true, force: true})
    }
    // With the override gone the site matches revision 1 again: nothing to do.
    const again = await osctl(['deploy', '--services', SERVICES, '--json'])
    expect(again.exitCode, again.stderr).toBe(0)
    expect((JSON.parse(again.stdout) as DeployResult).recreated).toBe(0)
  })

  // Issue 11 (day-2 commands), on the converged lab (the override above is gone, deploy has nothing to do).
  describe('deploy --dry-run, config generate/validate, prechecks and pull on the deployed host', () => {
    const conf = '/etc/osctl/keystone/keystone.conf'
    const hostState = async () => (await sh(`sha256sum ${conf}; cat /var/lib/osctl/services/keystone/current; ls /var/lib/osctl/services/keystone/revisions; ls /var/lib/osctl/journal; docker inspect -f '{{.Id}} {{.State.StartedAt}}' mariadb memcached rabbitmq keystone`)).stdout
    const secrets = async () => [...(await readFile(join(site, 'passwords.yml'), 'utf8')).matchAll(/^\w+: *"?([^"\n]{8,})"?$/gm)].map((m) => m[1])

    it('dry-run: exit 0 and no actions when converged; after an override, exit 6 with the config diff while the host is unchanged', async () => {
      const clean = await osctl(['deploy', '--dry-run', '--services', SERVICES, '--json'])
      expect(clean.exitCode, clean.stderr + clean.stdout).toBe(0)
      const cleanDoc = JSON.parse(clean.stdout)
      expect(cleanDoc.actions).toEqual([])
      expect(cleanDoc.unchanged.map((u: {service: string}) => u.service).sort()).toEqual(['keystone', 'mariadb', 'memcached', 'rabbitmq'])

      const before = await hostState()
      await mkdir(join(site, 'overrides'), {recursive: true})
      await writeFile(join(site, 'overrides', 'keystone.conf'), '[database]\nconnection_recycle_time = 20\n[token]\nexpiration = 5400\n')
      try {
        const r = await osctl(['deploy', '--dry-run', '--services', SERVICES, '--json'])
        expect(r.exitCode, r.stderr + r.stdout).toBe(6)
        const doc = JSON.parse(r.stdout)
        expect(doc).toMatchObject({ok: false, exitCode: 6, changes: true})
        expect(doc.hosts).toEqual([expect.objectContaining({ok: true, changed: false, wouldChange: true, exitCode: 0})])
        expect(doc.actions).toHaveLength(1)
        const [action] = doc.actions
        const current = Number((await sh('cat /var/lib/osctl/services/keystone/current')).stdout)
        // keystone.conf is part of what its steps act on (step keys include the config): deploy would run them again.
        expect(action).toMatchObject({service: 'keystone', revision: current, newRevision: true, steps: ['bootstrap']})
        expect(action.nextRevision).toBeGreaterThan(current)
        expect(action.containers).toEqual([expect.objectContaining({container: 'keystone', action: 'recreate', reasons: ['config:keystone.conf'], fields: []})])
        const diff = action.containers[0].configs[0]
        expect(diff).toMatchObject({file: 'keystone.conf', state: 'changed'})
        expect(diff.diff).toMatch(/^--- \/etc\/osctl\/keystone\/keystone.conf \(on the host\)\n\+\+\+ .*\(rendered\)\n@@ /)
        expect(diff.diff).toContain('\n-expiration = 86400\n+expiration = 5400\n')
        expect(diff.diff).toContain('\n+connection_recycle_time = 20\n')
        // The database URL's password, a context line of that hunk, is masked: no password is ever printed.
        expect(diff.diff).toContain('<password:keystone_database_password>')
        for (const s of await secrets()) expect(r.stdout).not.toContain(s)

        const text = await osctl(['deploy', '--dry-run', '--services', SERVICES])
        expect(text.exitCode).toBe(6)
        expect(text.stdout).toContain('keystone: recreate (config:keystone.conf)')
        expect(text.stdout).toContain('+expiration = 5400')
        // Nothing changed on the host: same file digest, same ledger, no journal, same containers.
        expect(await hostState()).toBe(before)
      } finally {
        await rm(join(site, 'overrides'), {recursive: true, force: true})
      }
    })

    it('config validate checks the site alone; config generate renders what the host has, byte for byte', async () => {
      const ok = await osctl(['config', 'validate', '--json'])
      expect(ok.exitCode, ok.stderr).toBe(0)
      expect(JSON.parse(ok.stdout).services).toEqual(expect.arrayContaining(['keystone', 'mariadb']))
      await mkdir(join(site, 'overrides'), {recursive: true})
      await writeFile(join(site, 'overrides', 'keystone.conf'), '[token]\nexpiration 5400\n')
      const bad = await osctl(['config', 'validate'])
      await rm(join(site, 'overrides'), {recursive: true, force: true})
      expect(bad.exitCode).toBe(2)
      expect(bad.stderr).toMatch(/overrides\/keystone\.conf:2/)

      const out = await mkdtemp(join(tmpdir(), 'osctl-genconfig-'))
      try {
        const gen = await osctl(['config', 'generate', '--out', join(out, 'tree'), '--services', SERVICES, '--json'])
        expect(gen.exitCode, gen.stderr).toBe(0)
        const host = JSON.parse(gen.stdout).hosts[0].host as string
        for (const file of ['keystone/keystone.conf', 'mariadb/config.json', 'rabbitmq/rabbitmq.conf']) {
          const local = createHash('sha256').update(await readFile(join(out, 'tree', host, file))).digest('hex')
          expect(local, file).toBe((await sh(`sha256sum /etc/osctl/${file}`)).stdout.split(' ')[0])
        }
        expect((await stat(join(out, 'tree', host, 'keystone/keystone.conf'))).mode & 0o777).toBe(0o600)
      } finally {
        await rm(out, {recursive: true, force: true})
      }
    })

    it('prechecks pass on the deployed host (its ports are held by osctl), and fail (exit 3) when a stranger holds a port an enabled service needs', async () => {
      const r = await osctl(['prechecks', '--json'])
      expect(r.exitCode, r.stdout).toBe(0)
      const [h] = JSON.parse(r.stdout).hosts
      expect(h.checks.map((c: {check: string}) => c.check)).toEqual(['systemd is PID 1', 'kernel version', 'cgroups usable', 'disk space', 'ports free', 'time sync', 'kernel features', 'name resolution', 'inventory address'])
      expect(h.checks.filter((c: {ok: boolean}) => !c.ok)).toEqual([])
      expect(h.ports).toEqual(expect.arrayContaining([3306, 4000, 5000, 5672, 9292, 11211]))

      // glance is enabled but not deployed here: a foreign listener on its port is a conflict.
      const listen = await sh(`systemd-run --unit osctl-test-squat perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalPort => 9292, Listen => 1, ReuseAddr => 1) or die; sleep 600'`)
      expect(listen.exitCode, listen.stderr).toBe(0)
      try {
        let squatted = {exitCode: -1, stdout: ''}
        for (let i = 0; i < 20 && squatted.exitCode !== 3; i++) {
          await sleep(250)
          squatted = await osctl(['prechecks', '--json'])
        }
        expect(squatted.exitCode, squatted.stdout).toBe(3)
        const ports = JSON.parse(squatted.stdout).hosts[0].checks.find((c: {check: string}) => c.check === 'ports free')
        expect(ports).toEqual({check: 'ports free', ok: false, detail: 'in use: 9292'})
      } finally {
        await sh('systemctl stop osctl-test-squat')
      }
    })

    it('pull gets every image a deploy needs and is a no-op the second time; containers keep running', async () => {
      const before = (await sh("docker inspect -f '{{.Id}} {{.State.StartedAt}}' mariadb memcached rabbitmq keystone")).stdout
      // Untag memcached's image (its container keeps running on the image id): pull must bring the tag back.
      const ref = (await sh("docker inspect -f '{{.Config.Image}}' memcached")).stdout.trim()
      expect((await sh(`docker rmi -f ${ref}`)).exitCode).toBe(0)
      const first = await osctl(['pull', '--services', SERVICES, '--json'])
      expect(first.exitCode, first.stderr + first.stdout).toBe(0)
      const images = JSON.parse(first.stdout).hosts[0].images as Array<{ref: string; status: string}>
      expect(images.map((i) => i.ref).sort()).toEqual(['keystone', 'mariadb', 'memcached', 'rabbitmq'].map((i) => ref.replace('/memcached:', `/${i}:`)).sort())
      expect(Object.fromEntries(images.map((i) => [i.ref, i.status]))).toMatchObject({[ref]: 'pulled'})
      expect(images.filter((i) => i.ref !== ref).every((i) => i.status === 'present')).toBe(true)
      expect(JSON.parse(first.stdout).hosts[0].changed).toBe(true)

      const second = await osctl(['pull', '--services', SERVICES, '--json'])
      expect(second.exitCode, second.stderr).toBe(0)
      const doc = JSON.parse(second.stdout)
      expect(doc.pulled).toBe(0)
      expect(doc.hosts[0]).toMatchObject({ok: true, changed: false})
      expect(doc.hosts[0].images.every((i: {status: string}) => i.status === 'present')).toBe(true)
      expect((await sh("docker inspect -f '{{.Id}} {{.State.StartedAt}}' mariadb memcached rabbitmq keystone")).stdout).toBe(before)
      // The pulled tag is the deployed image: deploy still has nothing to do.
      expect((await osctl(['deploy', '--dry-run', '--services', SERVICES])).exitCode).toBe(0)
    })
  })

  /** A keystone image derived from the deployed one, pushed to the lab's registry under `tag`. */
  const derive = async (tag: string, line: string) => {
    const registry = /registry: (\S+)/.exec(await readFile(join(site, 'osctl.yml'), 'utf8'))![1]
    const ctx = await mkdtemp(join(tmpdir(), 'osctl-up-'))
    try {
      await writeFile(join(ctx, 'Dockerfile'), `FROM ${registry}/osctl/keystone:zed\n${line}\n`)
      await execa('docker', ['build', '-q', '-t', `${registry}/osctl/keystone:${tag}`, ctx])
      await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${registry}/osctl/keystone:${tag}`, `docker://${registry}/osctl/keystone:${tag}`])
    } finally {
      await rm(ctx, {recursive: true, force: true})
    }
    return `${registry}/osctl/keystone:${tag}`
  }
  const imageId = async () => (await sh("docker inspect -f '{{.Image}}' keystone")).stdout.trim()

  it('service upgrade swaps keystone to a new image, rollback returns the exact previous image, a broken tag is restored (exit 4)', async () => {
    const registry = /registry: (\S+)/.exec(await readFile(join(site, 'osctl.yml'), 'utf8'))![1]
    const up = `up${process.pid}`
    const bad = `bad${process.pid}`
    await derive(up, `RUN echo ${up} > /etc/osctl-build`)
    await derive(bad, 'RUN ln -sf /bin/false /usr/local/bin/osctl_start')
    const before = await imageId()

    // The next keystone loads beside the serving one at a low CPU weight (cpu.shares), and gets the
    // default back at the swap. Meanwhile the serving one answers every request: the first socket
    // on the port keeps every new connection (templates/_shared/uwsgi_first_listener.py); spread
    // by hash, half of them waited seconds in the loading one's queue.
    const address = /address: (\S+)/.exec(await readFile(join(site, 'inventory.yml'), 'utf8'))![1]
    let upgrading = true
    const weights = new Set<string>()
    const answers: number[] = []
    const watch = (async () => {
      while (upgrading) {
        const r = await sh(
          `s=$(docker inspect -f '{{.State.Status}} {{.HostConfig.CpuShares}}' keystone.next 2>/dev/null) || exit 0; echo "$s"; ` +
            `case "$s" in running*) curl -s -o /dev/null -m 30 -w '%{http_code} %{time_total}\\n' http://${address}:5000/v3;; esac`,
        )
        const [state, answer] = r.stdout.trim().split('\n')
        if (state?.startsWith('running')) weights.add(state)
        if (state?.startsWith('running') && answer?.startsWith('200 ')) answers.push(Number(answer.split(' ')[1]) * 1000)
      }
    })()
    const u = await osctl(['service', 'upgrade', 'keystone', '--tag', up, '--json']).finally(() => (upgrading = false))
    await watch
    expect(u.exitCode, u.stderr).toBe(0)
    expect([...weights]).toEqual(['running 128'])
    console.log(`keystone answers while the next one loaded: ${answers.length}, slowest ${Math.round(Math.max(...answers))} ms`)
    expect(answers.length).toBeGreaterThanOrEqual(3)
    expect(Math.max(...answers)).toBeLessThan(2000)
    expect((await sh("docker inspect -f '{{.HostConfig.CpuShares}}' keystone")).stdout.trim()).toBe('1024')
    expect(JSON.parse(u.stdout)).toMatchObject({service: 'keystone', upgraded: [`${LAB}-1`]})
    expect(await imageId()).not.toBe(before)
    expect((await sh('docker exec keystone cat /etc/osctl-build')).stdout.trim()).toBe(up)
    expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)
    expect(JSON.parse(u.stdout).backup).toMatchObject({service: 'keystone', databases: ['keystone']})
    // The new image carries keystone's code unchanged (only /etc/osctl-build differs): its bootstrap
    // step (db sync + keystone-manage bootstrap) does not run again (its image_paths' fingerprint is the same).
    const ran = eventsOf(u.stderr).filter((e) => e.code === 'service.step.start').map((e) => e.data.step)
    expect(ran).toEqual([])
    // What a schema migration of the new version would leave behind.
    const sql = (q: string) => sh(`docker exec mariadb mariadb -N -e "${q}"`)
    expect((await sql('CREATE TABLE keystone.osctl_migrated (id INT)')).exitCode).toBe(0)

    // rollback_standby (default 600 s): the previous keystone started again beside the new one, at
    // the warm-up weight, under a timer that ends it; the port's first socket (the serving one) takes
    // every request, the standby none.
    expect(eventsOf(u.stderr).some((e) => e.code === 'service.standby' && e.data.container === 'keystone' && e.data.seconds === 600)).toBe(true)
    expect((await sh("docker inspect -f '{{.State.Status}} {{.HostConfig.CpuShares}}' keystone.prev")).stdout.trim()).toBe('running 128')
    expect((await sh('systemctl is-active osctl-standby-keystone.timer')).stdout.trim()).toBe('active')
    const [standby, loadedAt] = (await sh("docker inspect -f '{{.Id}} {{.State.StartedAt}}' keystone.prev")).stdout.trim().split(' ')
    for (let i = 0; i < 10; i++) expect((await sh(`curl -s -o /dev/null -w '%{http_code}' http://${address}:5000/v3`)).stdout).toBe('200')
    const since = (await sh("docker inspect -f '{{.State.StartedAt}}' keystone.prev")).stdout.trim()
    expect((await sh(`docker logs --since ${since} keystone.prev 2>&1 | grep -c 'GET /v3' || true`)).stdout.trim()).toBe('0')

    const rb = await osctl(['service', 'rollback', 'keystone', '--json'])
    expect(rb.exitCode, rb.stderr).toBe(0)
    // The standby itself now serves (no new container was created for the rollback); the snapshot
    // was restored (the table above), so it was stopped first and loaded again against it.
    const [servingId, servingStart, shares] = (await sh("docker inspect -f '{{.Id}} {{.State.StartedAt}} {{.HostConfig.CpuShares}}' keystone")).stdout.trim().split(' ')
    expect([servingId, shares]).toEqual([standby, '1024'])
    expect(Date.parse(servingStart)).toBeGreaterThan(Date.parse(loadedAt))
    expect(JSON.parse(rb.stdout).databaseRestored).toMatchObject({databases: ['keystone']})
    expect((await sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='keystone' AND table_name='osctl_migrated'")).stdout.trim()).toBe('0')
    expect(await imageId()).toBe(before)
    expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)

    // No schema change: the rollback takes the standby as it runs (not started again: no app load),
    // its timer stopped.
    const taken = await osctl(['service', 'upgrade', 'keystone', '--tag', up, '--json'])
    expect(taken.exitCode, taken.stderr).toBe(0)
    const running = (await sh("docker inspect -f '{{.Id}} {{.State.StartedAt}}' keystone.prev")).stdout.trim()
    const quick = await osctl(['service', 'rollback', 'keystone', '--json'])
    expect(quick.exitCode, quick.stderr).toBe(0)
    expect(JSON.parse(quick.stdout).databaseKept).toBeDefined()
    expect((await sh("docker inspect -f '{{.Id}} {{.State.StartedAt}}' keystone")).stdout.trim()).toBe(running)
    expect((await sh('systemctl is-active osctl-standby-keystone.timer')).stdout.trim()).not.toBe('active')
    expect(await imageId()).toBe(before)

    // A standby never serves in the unit's place: any stop of the unit (here a restart) removes it.
    const again = await osctl(['service', 'upgrade', 'keystone', '--tag', up, '--json'])
    expect(again.exitCode, again.stderr).toBe(0)
    expect((await sh("docker inspect -f '{{.State.Status}}' keystone.prev")).stdout.trim()).toBe('running')
    expect((await sh('systemctl restart osctl-svc-keystone')).exitCode).toBe(0)
    expect((await sh('docker container inspect keystone.prev >/dev/null 2>&1 || echo gone')).stdout.trim()).toBe('gone')
    const plain = await osctl(['service', 'rollback', 'keystone', '--json'])
    expect(plain.exitCode, plain.stderr).toBe(0)
    expect(await imageId()).toBe(before)

    // The window's end (osctl.yml rollback_standby: 3): the timer removes a standby nobody took.
    const yml = await readFile(join(site, 'osctl.yml'), 'utf8')
    await writeFile(join(site, 'osctl.yml'), `${yml}rollback_standby: 3\n`)
    try {
      const short = await osctl(['service', 'upgrade', 'keystone', '--tag', up, '--json'])
      expect(short.exitCode, short.stderr).toBe(0)
      expect(eventsOf(short.stderr).some((e) => e.code === 'service.standby' && e.data.seconds === 3)).toBe(true)
      let gone = false
      for (let i = 0; i < 30 && !gone; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500))
        gone = (await sh('docker container inspect keystone.prev >/dev/null 2>&1 || echo gone')).stdout.trim() === 'gone'
      }
      expect(gone).toBe(true)
      expect((await sh("docker inspect -f '{{.State.Status}}' keystone")).stdout.trim()).toBe('running')
      expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)
    } finally {
      await writeFile(join(site, 'osctl.yml'), yml)
    }
    const after = await osctl(['service', 'rollback', 'keystone', '--json'])
    expect(after.exitCode, after.stderr).toBe(0)
    expect(await imageId()).toBe(before)

    const broken = await osctl(['service', 'upgrade', 'keystone', '--tag', bad])
    expect(broken.exitCode, broken.stderr).toBe(4)
    expect(broken.stderr).toMatch(/restored the previous revision/)
    expect(await imageId()).toBe(before)
    expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)
    for (const t of [up, bad]) await execa('docker', ['rmi', '-f', `${registry}/osctl/keystone:${t}`], {reject: false})
  })

  it('kill -9 during an upgrade: the swap still completes, status says so, deploy refuses, rollback undoes it, upgrade completes it', async () => {
    const tag = `k${process.pid}`
    const ref = await derive(tag, `RUN echo ${tag} > /etc/osctl-build`)
    const before = await imageId()
    const journal = '/var/lib/osctl/journal/keystone.json'
    /** Starts the upgrade and kills osctl with SIGKILL once the container swap is under way. */
    const killMidUpgrade = async () => {
      const child = execa('node', [join(REPO_ROOT, 'bin', 'run.js'), 'service', 'upgrade', 'keystone', '--tag', tag], {reject: false, env: {OSCTL_SITE: site}, stdin: 'ignore'})
      let caught = false
      for (let i = 0; i < 3000 && !caught && child.exitCode === null; i++) {
        caught = (await sh(`test -f ${journal} && docker container inspect keystone.next >/dev/null 2>&1 || docker container inspect keystone.prev >/dev/null 2>&1`)).exitCode === 0
      }
      child.kill('SIGKILL')
      const r = await child
      expect(caught, `the upgrade ended before the swap: ${r.stderr}`).toBe(true)
      expect(r.signal).toBe('SIGKILL')
    }
    const tokenOk = async () => {
      for (let i = 0; i < 60; i++) {
        if ((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode === 0) return true
        await sleep(2000)
      }
      return false
    }

    await killMidUpgrade()
    expect((await sh(`cat ${journal}`)).stdout).toMatch(/"op": "upgrade"/)
    // The host-side swap is not osctl's process: keystone runs (one revision or the other) and answers.
    expect(await tokenOk()).toBe(true)
    const status = await osctl(['service', 'status', 'keystone'])
    expect(status.exitCode).toBe(1)
    expect(status.stderr).toMatch(/osctl was killed during a `service upgrade` of keystone to revision \d+/)
    const dep = await osctl(['deploy', '--services', 'keystone'])
    expect(dep.exitCode).not.toBe(0)
    expect(dep.stderr).toMatch(/deploy will not pick a side/)

    const undo = await osctl(['service', 'rollback', 'keystone', '--json'])
    expect(undo.exitCode, undo.stderr).toBe(0)
    expect(JSON.parse(undo.stdout).interrupted).toEqual([expect.objectContaining({op: 'upgrade', service: 'keystone'})])
    expect(await imageId()).toBe(before)
    expect((await sh(`test -e ${journal}`)).exitCode).toBe(1)
    expect((await sh('docker ps -a --format "{{.Names}}" | grep -c "^keystone"')).stdout.trim()).toBe('1')
    expect(await tokenOk()).toBe(true)
    const history = JSON.parse((await osctl(['service', 'history', 'keystone', '--json'])).stdout)
    expect(history.hosts[0].revisions.map((r: {outcome: string}) => r.outcome)).toContain('interrupted')

    // Killed again; this time the upgrade is run again and completes it.
    await killMidUpgrade()
    const redo = await osctl(['service', 'upgrade', 'keystone', '--tag', tag, '--json'])
    expect(redo.exitCode, redo.stderr).toBe(0)
    expect(eventsOf(redo.stderr).filter((e) => e.code === 'service.interrupted').map((e) => [e.data.service, e.data.action])).toEqual([['keystone', 'complete']])
    expect((await sh('docker exec keystone cat /etc/osctl-build')).stdout.trim()).toBe(tag)
    expect((await sh(`test -e ${journal}`)).exitCode).toBe(1)
    expect(await tokenOk()).toBe(true)
    const back = await osctl(['service', 'rollback', 'keystone'])
    expect(back.exitCode, back.stderr).toBe(0)
    expect(await imageId()).toBe(before)
    await execa('docker', ['rmi', '-f', ref], {reject: false})
  })

  it('kill -9 at the other steps of an upgrade (bootstrap step running, image pulled): the next upgrade completes it, rollback returns', async () => {
    const tag = `p${process.pid}`
    // Other keystone code (a comment line in the package): keystone's bootstrap step (db sync +
    // keystone-manage bootstrap), whose key counts keystone's code, runs for this image.
    const ref = await derive(tag, `RUN echo ${tag} > /etc/osctl-build && echo '# ${tag}' >> /usr/lib/python3/dist-packages/keystone/__init__.py`)
    const before = await imageId()
    const points: Array<[string, string]> = [
      // First the step: its key is recorded once it ran for this image, and a later upgrade to the same image skips it.
      ['a bootstrap step runs', "docker ps --format '{{.Names}}' | grep -q '^osctl-bootstrap-keystone-'"],
      ['the new image is on the host', `docker image inspect ${ref} >/dev/null 2>&1`],
    ]
    for (const [step, probe] of points) {
      const child = execa('node', [join(REPO_ROOT, 'bin', 'run.js'), 'service', 'upgrade', 'keystone', '--tag', tag], {reject: false, env: {OSCTL_SITE: site}, stdin: 'ignore'})
      let caught = false
      for (let i = 0; i < 3000 && !caught && child.exitCode === null; i++) caught = (await sh(probe)).exitCode === 0
      child.kill('SIGKILL')
      const killed = await child
      expect(caught, `${step}: the upgrade ended first: ${killed.stderr.slice(-1500)}`).toBe(true)
      expect(killed.signal, step).toBe('SIGKILL')
      // keystone serves throughout (the swap had not begun); the next upgrade completes the change.
      expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode, step).toBe(0)
      const redo = await osctl(['service', 'upgrade', 'keystone', '--tag', tag, '--json'])
      expect(redo.exitCode, `${step}: ${redo.stderr.slice(-2000)}`).toBe(0)
      expect((await sh('docker exec keystone cat /etc/osctl-build')).stdout.trim(), step).toBe(tag)
      expect((await sh('test -e /var/lib/osctl/journal/keystone.json')).exitCode, step).toBe(1)
      // Nothing half-done is left. A redo that completed the killed run's change (its journal was
      // written before the kill) keeps no rollback standby; one that found nothing begun is a plain
      // upgrade and keeps the previous keystone running as one.
      const tookOver = eventsOf(redo.stderr).some((e) => e.code === 'service.interrupted')
      const names = (await sh('docker ps -a --format "{{.Names}} {{.State}}" | grep "^keystone" | sort')).stdout.trim()
      expect(names, step).toBe(tookOver ? 'keystone running' : 'keystone running\nkeystone.prev running')
      expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode, step).toBe(0)
      const back = await osctl(['service', 'rollback', 'keystone'])
      expect(back.exitCode, `${step}: ${back.stderr}`).toBe(0)
      expect(await imageId(), step).toBe(before)
      // The next round pulls again.
      await sh(`docker rmi ${ref}`)
    }
    await execa('docker', ['rmi', '-f', ref], {reject: false})
  })

  it('faults during an upgrade: registry down (exit 5) and a full disk during the pull (exit 1) change nothing; keystone keeps serving', async () => {
    // A 24 MB layer the host does not have yet: the pull must download it (through /var/lib/docker/tmp).
    const tag = `f${process.pid}`
    const ref = await derive(tag, `RUN head -c 24M /dev/urandom > /osctl-blob`)
    const before = await imageId()
    // The snapshot is taken while the image is pulled: one for a change that did not happen is not kept.
    const snapshots = async () => (await sh('ls /var/lib/osctl/services/keystone/backups 2>/dev/null || true')).stdout
    const saved = await snapshots()
    const unchanged = async () => {
      expect(await imageId()).toBe(before)
      expect(await snapshots()).toBe(saved)
      expect((await sh('docker ps -a --format "{{.Names}}" | grep "^keystone"')).stdout.trim()).toBe('keystone')
      expect((await sh(`docker image inspect ${ref}`)).exitCode).toBe(1)
      expect((await sh('test -e /var/lib/osctl/journal/keystone.json')).exitCode).toBe(1)
      expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)
    }

    expect((await sh('systemctl stop osctl-registry.service')).exitCode).toBe(0)
    try {
      const down = await osctl(['service', 'upgrade', 'keystone', '--tag', tag, '--json'])
      expect(down.exitCode, down.stderr).toBe(5)
      expect(JSON.parse(down.stdout).error).toMatchObject({code: 'REGISTRY_UNREACHABLE'})
      expect(JSON.parse(down.stdout).error.message).toMatch(/the registry \S+ does not answer/)
      await unchanged()
    } finally {
      expect((await sh('systemctl start osctl-registry.service')).exitCode).toBe(0)
    }
    const status = await osctl(['system', 'status', 'registry'])
    expect(status.exitCode, status.stderr).toBe(0)

    expect((await sh('mkdir -p /var/lib/docker/tmp && mount -t tmpfs -o size=4m osctl-full /var/lib/docker/tmp')).exitCode).toBe(0)
    try {
      const full = await osctl(['service', 'upgrade', 'keystone', '--tag', tag, '--json'])
      expect(full.exitCode, full.stderr).toBe(1)
      expect(JSON.parse(full.stdout).error.message).toMatch(/no space left on the host's Docker disk/)
      expect(JSON.parse(full.stdout).error.hint).toMatch(/image prune/)
      await unchanged()
    } finally {
      await sh('umount /var/lib/docker/tmp')
    }
    await execa('docker', ['rmi', '-f', ref], {reject: false})
  })

  it('the SSH connection cut mid-swap: the swap completes on the host, osctl finishes the upgrade over a new connection', async () => {
    const tag = `s${process.pid}`
    const ref = await derive(tag, `RUN echo ${tag} > /etc/osctl-build`)
    const before = await imageId()
    const child = execa('node', [join(REPO_ROOT, 'bin', 'run.js'), 'service', 'upgrade', 'keystone', '--tag', tag, '--json'], {reject: false, env: {OSCTL_SITE: site}, stdin: 'ignore'})
    // Once the host-side swap unit runs, every SSH session osctl holds is killed (sshd's listener stays).
    let cut = false
    for (let i = 0; i < 3000 && !cut && child.exitCode === null; i++) {
      cut = (await sh("systemctl list-units --no-legend --plain 'osctl-swap-keystone-*' | grep -q . && pkill -f '^sshd: root'")).exitCode === 0
    }
    const r = await child
    expect(cut, `the upgrade ended before the swap: ${r.stderr}`).toBe(true)
    expect(r.exitCode, r.stderr.split('\n').slice(-20).join('\n')).toBe(0)
    expect((await sh('docker exec keystone cat /etc/osctl-build')).stdout.trim()).toBe(tag)
    expect((await sh('test -e /var/lib/osctl/journal/keystone.json')).exitCode).toBe(1)
    // Nothing half-done is left: keystone, and the previous one running as the rollback standby (set over the new connection).
    expect((await sh('docker ps -a --format "{{.Names}} {{.State}}" | grep "^keystone" | sort')).stdout.trim()).toBe('keystone running\nkeystone.prev running')
    expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)
    const status = await osctl(['service', 'status', 'keystone'])
    expect(status.exitCode, status.stderr).toBe(0)
    const back = await osctl(['service', 'rollback', 'keystone'])
    expect(back.exitCode, back.stderr).toBe(0)
    expect(await imageId()).toBe(before)
    await execa('docker', ['rmi', '-f', ref], {reject: false})
  })

  it('osctl upgrade moves every service to a tag in kolla order, a second run has nothing to do, a release jump is refused before anything changes', async () => {
    const registry = /registry: (\S+)/.exec(await readFile(join(site, 'osctl.yml'), 'utf8'))![1]
    const images = SERVICES.split(',')
    const tag = `c${process.pid}`
    // A new build of the same release: the content exists, so the build only tags and pushes.
    const build = await osctl(['image', 'build', ...images, '--tag', tag, '--push'], {}, 1_800_000)
    expect(build.exitCode, build.stderr).toBe(0)
    const running = async () => (await sh(`docker inspect -f '{{.Name}} {{.Config.Image}} {{.Id}}' ${images.join(' ')}`)).stdout.trim().split('\n')

    const u = await osctl(['upgrade', '--tag', tag, '--json'])
    expect(u.exitCode, u.stderr.split('\n').slice(-30).join('\n')).toBe(0)
    const doc = JSON.parse(u.stdout)
    expect(doc).toMatchObject({tag, from: ['zed'], to: 'zed', step: 'same'})
    expect(doc.services.filter((s: {status: string}) => s.status !== 'not-deployed').map((s: {service: string; status: string}) => [s.service, s.status])).toEqual(images.map((i) => [i, 'upgraded']))
    // Infrastructure first, keystone last: each started after the one before was healthy.
    expect(eventsOf(u.stderr).filter((e) => e.code === 'upgrade.service.start' || e.code === 'upgrade.service.done').map((e) => `${e.code.split('.').at(-1)} ${e.data.service}`)).toEqual(images.flatMap((i) => [`start ${i}`, `done ${i}`]))
    const after = await running()
    expect(after.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(images.map((i) => `/${i} ${registry}/osctl/${i}:${tag}`))
    expect((await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode).toBe(0)

    const again = await osctl(['upgrade', '--tag', tag, '--json'])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).services.filter((s: {status: string}) => s.status !== 'not-deployed').map((s: {status: string}) => s.status)).toEqual(images.map(() => 'already'))
    expect(await running()).toEqual(after)

    // The same content labelled as 2024.1: from zed that skips 2023.1, so nothing is pulled or changed.
    const jump = `j${process.pid}`
    const ctx = await mkdtemp(join(tmpdir(), 'osctl-jump-'))
    try {
      for (const i of images) {
        await writeFile(join(ctx, 'Dockerfile'), `FROM ${registry}/osctl/${i}:${tag}\nLABEL io.osctl.openstack-release=2024.1\n`)
        await execa('docker', ['build', '-q', '-t', `${registry}/osctl/${i}:${jump}`, ctx])
        await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${registry}/osctl/${i}:${jump}`, `docker://${registry}/osctl/${i}:${jump}`])
      }
    } finally {
      await rm(ctx, {recursive: true, force: true})
    }
    const refused = await osctl(['upgrade', '--tag', jump])
    expect(refused.exitCode, refused.stderr).toBe(2)
    expect(refused.stderr).toMatch(/refusing to skip from zed \(2022\.2\) to 2024\.1 \(caracal\)/)
    expect(refused.stderr).toMatch(/first to 2023\.1/)
    expect(await running()).toEqual(after)
    expect((await sh(`docker images -q ${registry}/osctl/keystone:${jump}`)).stdout.trim()).toBe('')
    for (const i of images) await execa('docker', ['rmi', '-f', `${registry}/osctl/${i}:${jump}`], {reject: false})
  })

  it('keeps every container through a restart of the Docker engine: same ids, units never restarted, keystone answers without osctl', async () => {
    const containers = 'mariadb memcached rabbitmq keystone'
    const units = containers.split(' ').map((c) => `osctl-svc-${c}`).join(' ')
    const ids = async () => (await sh(`docker inspect -f '{{.Name}} {{.Id}} {{.State.StartedAt}}' ${containers}`)).stdout
    // When each unit became active and how often systemd restarted it: a stop/start would change both.
    const unitState = async () => (await sh(`systemctl show -p Id,ActiveState,ActiveEnterTimestampMonotonic,NRestarts ${units}`)).stdout
    const [idsBefore, unitsBefore] = [await ids(), await unitState()]
    expect(unitsBefore.match(/ActiveState=active/g)).toHaveLength(4)
    const restart = await sh('systemctl restart docker.service')
    expect(restart.exitCode, restart.stderr).toBe(0)
    let tries = 0
    let ok = false
    while (!ok && tries < 30) {
      tries++
      ok = (await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode === 0
      if (!ok) await sleep(1000)
    }
    console.log(`keystone answered a token issue ${tries} tr${tries === 1 ? 'y' : 'ies'} after \`systemctl restart docker\``)
    expect(ok).toBe(true)
    expect(await ids()).toBe(idsBefore)
    expect(await unitState()).toBe(unitsBefore)
    // Each unit's main process is attached to its container again (its output reaches the journal).
    for (const c of containers.split(' ')) expect((await sh(`pgrep -f 'docker start -a ${c}$'`)).exitCode, c).toBe(0)
  })

  it('comes back after a reboot of the host without osctl', async () => {
    await execa('docker', ['restart', HOST])
    let ok = false
    for (let i = 0; i < 60 && !ok; i++) {
      ok = (await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode === 0
      if (!ok) await sleep(2000)
    }
    expect(ok).toBe(true)
    expect((await sh('systemctl is-active osctl-svc-keystone')).stdout.trim()).toBe('active')
  })

  // The swap script on a real lab host (systemd + Docker), against the same contract as the fake lab host.
  swapContract('lab host over SSH', async () => {
    const session = sshSession(await loadSite(site))
    const [h] = (await loadSite(site)).hosts
    const image = (await sh("docker inspect -f '{{.Config.Image}}' memcached")).stdout.trim()
    const engine = session.docker(h)
    return {
      host: session.host(h),
      engine,
      createRunning: async (name, labels) => void (await engine.createContainer({name, image, labels, command: ['sleep', '3600']})),
      close: () => session.close(),
    }
  })

  // Day-2 operations (issue 11). Self-contained; its last `it` destroys the deployment, so this
  // block stays the last one in the file (the lab's afterAll removes the host anyway).
  describe('day-2: service stop/start/restart, mariadb backup/restore, system logs, destroy', () => {
    const token = async () => (await openstack(['token', 'issue', '-f', 'value', '-c', 'id'])).exitCode
    const inspect = async (fmt: string) => (await sh(`docker inspect -f '${fmt}' keystone`)).stdout.trim()
    const sql = async (q: string) => (await sh(`docker exec mariadb mariadb -N -B -e "${q}"`)).stdout.trim()

    it('service stop keeps keystone down (also across an engine restart) until start; restart keeps the container, new process', async () => {
      const started = Date.now()
      expect(await token()).toBe(0)
      const stop = await osctl(['service', 'stop', 'keystone', '--json'])
      expect(stop.exitCode, stop.stderr + stop.stdout).toBe(0)
      expect(JSON.parse(stop.stdout)).toMatchObject({ok: true, command: 'service stop', hosts: [{host: `${LAB}-1`, changed: true, containers: [{container: 'keystone', status: 'stopped'}]}]})
      expect(await token()).not.toBe(0)
      expect((await sh('systemctl is-enabled osctl-svc-keystone')).stdout.trim()).toBe('disabled')
      // Stopped stays stopped when the engine comes back (live-restore reattaches only running containers).
      expect((await sh('systemctl restart docker.service')).exitCode).toBe(0)
      await sleep(3000)
      expect(await inspect('{{.State.Running}}')).toBe('false')
      expect((await sh('systemctl is-active osctl-svc-keystone')).stdout.trim()).toBe('inactive')
      expect(await token()).not.toBe(0)
      const again = await osctl(['service', 'stop', 'keystone', '--json'])
      expect(JSON.parse(again.stdout).hosts[0]).toMatchObject({changed: false, containers: [{status: 'unchanged'}]})

      const start = await osctl(['service', 'start', 'keystone', '--json'])
      expect(start.exitCode, start.stderr + start.stdout).toBe(0)
      expect(JSON.parse(start.stdout).hosts[0].containers[0]).toMatchObject({container: 'keystone', status: 'started', health: expect.stringContaining('answered')})
      expect(await token()).toBe(0)

      const [id, at] = [await inspect('{{.Id}}'), await inspect('{{.State.StartedAt}}')]
      const restart = await osctl(['service', 'restart', 'keystone', '--json'])
      expect(restart.exitCode, restart.stderr + restart.stdout).toBe(0)
      expect(await inspect('{{.Id}}')).toBe(id)
      expect(await inspect('{{.State.StartedAt}}')).not.toBe(at)
      expect(await token()).toBe(0)
      expect((await osctl(['service', 'stop', 'keystonee'])).exitCode).toBe(2)
      console.log(`stop/start/restart: ${((Date.now() - started) / 1000).toFixed(1)}s`)
    })

    it('mariadb backup to the site dir (0600); a project created afterwards is gone after restoring it', async () => {
      const started = Date.now()
      const b = await osctl(['mariadb', 'backup', '--json'])
      expect(b.exitCode, b.stderr + b.stdout).toBe(0)
      const {backup} = JSON.parse(b.stdout)
      expect(backup.path.startsWith(join(site, 'backups', 'mariadb-'))).toBe(true)
      expect(backup.databases).toContain('keystone')
      const st = await stat(backup.path)
      expect(st.mode & 0o777).toBe(0o600)
      expect(st.size).toBe(backup.bytes)

      const project = `osctl-restore-${process.pid}`
      const created = await openstack(['project', 'create', project, '-f', 'json'])
      expect(created.exitCode, created.stderr).toBe(0)
      expect(await sql(`SELECT COUNT(*) FROM keystone.project WHERE name='${project}'`)).toBe('1')

      const bad = join(site, 'not-a-dump.sql')
      await writeFile(bad, 'SELECT 1;\n')
      const refused = await osctl(['mariadb', 'restore', bad])
      expect(refused.exitCode).toBe(2)
      expect(await sql(`SELECT COUNT(*) FROM keystone.project WHERE name='${project}'`)).toBe('1')

      const r = await osctl(['mariadb', 'restore', backup.path, '--json'])
      expect(r.exitCode, r.stderr + r.stdout).toBe(0)
      const doc = JSON.parse(r.stdout)
      expect(doc.services).toEqual(expect.arrayContaining([`${LAB}-1/keystone`, `${LAB}-1/mariadb`]))
      expect((await stat(doc.before.path)).mode & 0o777).toBe(0o600)
      expect(await sql(`SELECT COUNT(*) FROM keystone.project WHERE name='${project}'`)).toBe('0')
      const list = await openstack(['project', 'list', '-f', 'value', '-c', 'Name'])
      expect(list.exitCode, list.stderr).toBe(0)
      expect(list.stdout.split('\n')).not.toContain(project)
      expect(list.stdout.split('\n')).toContain('admin')
      expect(await token()).toBe(0)
      console.log(`backup/restore: ${((Date.now() - started) / 1000).toFixed(1)}s`)
    })

    it('system logs etcd and service logs --since show the journal and container lines', async () => {
      const etcd = await osctl(['system', 'logs', 'etcd', '--since', '1d', '--tail', '20'])
      expect(etcd.exitCode, etcd.stderr).toBe(0)
      expect(etcd.stdout.trim().split('\n').length).toBeGreaterThan(1)
      expect(etcd.stdout).toMatch(/etcd/)
      const json = JSON.parse((await osctl(['system', 'logs', 'etcd', '--tail', '5', '--json'])).stdout)
      expect(json.hosts[0].text.trim().split('\n').length).toBeGreaterThanOrEqual(1)
      const recent = await osctl(['service', 'logs', 'keystone', '--since', '1h', '--tail', '5'])
      expect(recent.exitCode, recent.stderr).toBe(0)
      expect(recent.stdout.trim()).not.toBe('')
      expect((await osctl(['service', 'logs', 'keystone', '--since', 'yesterday'])).exitCode).toBe(2)
    })

    it('service logs --follow streams a line the container prints, ends on Ctrl-C (exit 130), and leaves no `docker logs` running on the host', async () => {
      const follow = execa('node', [join(REPO_ROOT, 'bin', 'run.js'), 'service', 'logs', 'keystone', '--follow', '--tail', '1'], {env: {OSCTL_SITE: site}, reject: false, stdin: 'ignore'})
      let out = ''
      let err = ''
      follow.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      follow.stderr!.on('data', (d: Buffer) => (err += d.toString()))
      const followers = async () => (await sh('pgrep -f "[d]ocker logs --tail 1 --follow keystone" || true')).stdout.trim()
      for (let i = 0; i < 100 && follow.exitCode === null && (await followers()) === ''; i++) await sleep(200)
      expect(await followers(), `osctl never started docker logs --follow on the host (osctl exit ${follow.exitCode}: ${err})`).not.toBe('')
      // A line on the container's stdout (its PID 1's), as the service itself would print it.
      const marker = `osctl-follow-${Date.now()}`
      expect((await sh(`docker exec keystone sh -c 'echo ${marker} > /proc/1/fd/1'`)).exitCode).toBe(0)
      for (let i = 0; i < 100 && !out.includes(marker); i++) await sleep(100)
      expect(out).toContain(marker)
      follow.kill('SIGINT')
      expect((await follow).exitCode).toBe(130)
      for (let i = 0; i < 50 && (await followers()) !== ''; i++) await sleep(200)
      expect(await followers(), 'docker logs --follow still runs on the host after osctl ended').toBe('')
    })

    it('destroy refuses without --yes-i-really-really-mean-it, then removes every osctl container, unit and volume (twice: nothing left)', async () => {
      const started = Date.now()
      const before = await managedContainers()
      const refused = await osctl(['destroy', '--include-system'])
      expect(refused.exitCode).toBe(2)
      expect(refused.stderr).toContain('--yes-i-really-really-mean-it')
      expect(await managedContainers()).toBe(before)

      const d = await osctl(['destroy', '--include-system', '--yes-i-really-really-mean-it', '--json'])
      expect(d.exitCode, d.stderr + d.stdout).toBe(0)
      const h = JSON.parse(d.stdout).hosts[0]
      expect(h).toMatchObject({ok: true, changed: true, system: ['registry', 'etcd']})
      expect(h.containers).toEqual(expect.arrayContaining(['keystone', 'mariadb', 'memcached', 'rabbitmq']))
      expect(h.volumes).toContain('mariadb')
      expect(await managedContainers()).toBe('')
      expect((await sh('ls /etc/systemd/system | grep "^osctl-"')).stdout.trim()).toBe('')
      expect((await sh('systemctl list-units --all --plain --no-legend "osctl-*"')).stdout.trim()).toBe('')
      expect((await sh(`docker volume ls -q | grep -x -e ${h.volumes.join(' -e ')}`)).stdout.trim()).toBe('')
      expect((await sh('test -e /var/lib/osctl || test -e /etc/osctl')).exitCode).toBe(1)
      expect(await token()).not.toBe(0)

      const twice = await osctl(['destroy', '--include-system', '--yes-i-really-really-mean-it', '--json'])
      expect(twice.exitCode, twice.stderr + twice.stdout).toBe(0)
      expect(JSON.parse(twice.stdout).hosts[0]).toMatchObject({ok: true, changed: false})
      console.log(`destroy: ${((Date.now() - started) / 1000).toFixed(1)}s`)
    })
  })
})
