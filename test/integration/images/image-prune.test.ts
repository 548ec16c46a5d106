import {execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {HostPrune, PruneResult} from '../../../src/images/image-prune.js'
import {runCli} from '../../helpers/cli.js'

// One lab host, memcached (the cheapest service) deployed, then upgraded to four more tags, each a
// distinct image: five revisions. After a rollback to revision 2, `image prune --keep 2` must keep
// revisions 5 and 4 (newest) and 2 (current), remove 1 and 3, and leave a foreign image alone.
const LAB = `p${process.pid}`
const HOST = `osctl-${LAB}-1`
const TAGS = ['zed', ...[2, 3, 4, 5].map((n) => `prune${n}-${process.pid}`)]

const sh = async (script: string) => {
  const r = await execa('docker', ['exec', HOST, 'sh', '-c', script], {reject: false})
  return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr)}
}

describe.skipIf(process.env.OSCTL_SKIP_INTEGRATION === '1')('osctl image prune on a lab host', () => {
  let site: string
  let registry: string
  /** Image id of each revision (index 0 = revision 1), as the ledger recorded it. */
  let revisionImages: string[] = []
  const osctl = (args: string[], timeoutMs = 600_000) => runCli(args, {env: {OSCTL_SITE: site}, timeoutMs})
  const ref = (tag: string) => `${registry}/osctl/memcached:${tag}`
  /** Whether the lab host's engine still has the image. */
  const onHost = async (id: string) => (await sh(`docker image inspect -f '{{.Id}}' ${id}`)).stdout.trim() === id

  beforeAll(async () => {
    // Fail loudly: a missing engine must not look like a pass.
    const info = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], {reject: false})
    if (info.exitCode !== 0) throw new Error(`Docker is not available (set OSCTL_SKIP_INTEGRATION=1 to skip): ${info.stderr}`)
    site = await mkdtemp(join(tmpdir(), 'osctl-prune-site-'))
    const up = await runCli(['lab', 'up', '--hosts', '1', '--name', LAB, '--site', site, '--with-packages', '--json'], {timeoutMs: 900_000})
    expect(up.exitCode, up.stderr).toBe(0)
    const boot = await osctl(['bootstrap', '--json'], 900_000)
    expect(boot.exitCode, boot.stderr + boot.stdout).toBe(0)
    const build = await osctl(['image', 'build', 'memcached', '--push'], 1_800_000)
    expect(build.exitCode, build.stderr).toBe(0)
    registry = /registry: (\S+)/.exec(await readFile(join(site, 'osctl.yml'), 'utf8'))![1]

    // Each further tag is its own image (a label on top of memcached:zed): a new id, no new layer.
    const ctx = await mkdtemp(join(tmpdir(), 'osctl-prune-img-'))
    try {
      for (const tag of TAGS.slice(1)) {
        await writeFile(join(ctx, 'Dockerfile'), `FROM ${ref('zed')}\nLABEL io.osctl.test-prune=${tag}\n`)
        await execa('docker', ['build', '-q', '-t', ref(tag), ctx])
        await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-daemon:${ref(tag)}`, `docker://${ref(tag)}`])
      }
    } finally {
      await rm(ctx, {recursive: true, force: true})
    }
    const deployed = await osctl(['deploy', '--services', 'memcached', '--json'])
    expect(deployed.exitCode, deployed.stderr).toBe(0)
    for (const tag of TAGS.slice(1)) {
      const u = await osctl(['service', 'upgrade', 'memcached', '--tag', tag, '--json'])
      expect(u.exitCode, u.stderr).toBe(0)
    }
    const hist = await osctl(['service', 'history', 'memcached', '--json'])
    expect(hist.exitCode, hist.stderr).toBe(0)
    const revs = JSON.parse(hist.stdout).hosts[0].revisions as Array<{revision: number; images: string[]}>
    expect(revs.map((r) => [r.revision, r.images])).toEqual(TAGS.map((t, i) => [i + 1, [ref(t)]]))
    const ids = await sh(`for t in ${TAGS.join(' ')}; do docker image inspect -f '{{.Id}}' ${registry}/osctl/memcached:$t; done`)
    revisionImages = ids.stdout.trim().split('\n')
    expect(new Set(revisionImages).size).toBe(5)
  })

  afterAll(async () => {
    await runCli(['lab', 'down', '--name', LAB], {timeoutMs: 300_000})
    if (site) await rm(site, {recursive: true, force: true})
    if (registry) for (const tag of TAGS.slice(1)) await execa('docker', ['rmi', ref(tag)], {reject: false})
  })

  it('keeps the 2 newest revisions and the current one, removes the rest, never a foreign image; rollback then refuses clearly', async () => {
    const rb = await osctl(['service', 'rollback', 'memcached', '--to', '2', '--json'])
    expect(rb.exitCode, rb.stderr).toBe(0)
    // Not osctl's: an empty image under another name, which prune must never touch.
    expect((await sh('tar cf - --files-from /dev/null | docker import - foreign/thing:1')).exitCode).toBe(0)
    const foreignId = (await sh("docker image inspect -f '{{.Id}}' foreign/thing:1")).stdout.trim()

    const dry = await osctl(['image', 'prune', '--keep', '2', '--dry-run', '--json'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    const planned = JSON.parse(dry.stdout) as PruneResult
    const plannedHost = planned.hosts[0] as HostPrune
    expect(planned.dryRun).toBe(true)
    expect(plannedHost.removed.map((i) => i.id).sort()).toEqual([revisionImages[0], revisionImages[2]].sort())
    for (const id of revisionImages) expect(await onHost(id)).toBe(true)

    const text = await osctl(['image', 'prune', '--keep', '2'])
    expect(text.exitCode, text.stderr).toBe(0)
    expect(text.stdout).toContain('revision 2 of memcached (current); container memcached (running)')
    expect(text.stdout).toContain('revision 5 of memcached')
    expect(text.stdout).toMatch(/remove +\w{12} +\S+memcached:zed/)
    expect(text.stdout).toContain('3 kept, 2 removed')
    expect(text.stdout).toContain('1 other image(s) not touched')

    expect(await Promise.all(revisionImages.map(onHost))).toEqual([false, true, false, true, true])
    expect(await onHost(foreignId)).toBe(true)
    expect((await sh('systemctl is-active osctl-svc-memcached')).stdout.trim()).toBe('active')

    // Nothing left to remove: a second run changes nothing.
    const again = await osctl(['image', 'prune', '--keep', '2', '--json'])
    expect(again.exitCode, again.stderr).toBe(0)
    const second = JSON.parse(again.stdout) as PruneResult
    expect((second.hosts[0] as HostPrune).removed).toEqual([])
    expect((second.hosts[0] as HostPrune).kept.map((i) => i.id).sort()).toEqual([revisionImages[1], revisionImages[3], revisionImages[4]].sort())
    expect((second.hosts[0] as HostPrune).foreign).toBe(1)

    const back = await osctl(['service', 'rollback', 'memcached', '--to', '1'])
    expect(back.exitCode).toBe(2)
    expect(back.stderr).toContain('revision 1')
    expect(back.stderr).toContain('is no longer on the host')
    expect(back.stderr).toContain('pruned')
    expect((await sh("docker inspect -f '{{.Image}}' memcached")).stdout.trim()).toBe(revisionImages[1])
  })

  it('refuses a bad --keep and an unknown --limit host with exit 2', async () => {
    const keep = await osctl(['image', 'prune', '--keep', '0'])
    expect(keep.exitCode).toBe(2)
    expect(keep.stderr).toContain('--keep')
    const limit = await osctl(['image', 'prune', '--limit', 'nosuchhost'])
    expect(limit.exitCode).toBe(2)
    expect(limit.stderr).toContain('nosuchhost')
  })
})
