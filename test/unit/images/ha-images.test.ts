import {cp, mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {loadImageGraph} from '../../../src/images/image-graph.js'
import {REPO_ROOT} from '../../helpers/cli.js'
import {VARS, ref} from './helpers.js'

// The HA load-balancer images (issue 13): not wired into osctl yet, but they must stay buildable
// system-container images (children of base, foreground processes a runc unit can supervise).
const roots: string[] = []
afterAll(async () => {
  for (const r of roots) await rm(r, {recursive: true, force: true})
})

async function haImages(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'osctl-images-'))
  roots.push(root)
  for (const name of ['base', 'keepalived', 'haproxy']) await cp(join(REPO_ROOT, 'images', name), join(root, 'images', name), {recursive: true})
  return join(root, 'images')
}

describe('keepalived and haproxy images', () => {
  it('are children of base, in the graph after it', async () => {
    const g = await loadImageGraph(await haImages(), VARS, ['keepalived', 'haproxy'])
    expect(g.order[0]).toBe('base')
    expect(g.order.slice(1).sort()).toEqual(['haproxy', 'keepalived'])
    for (const name of ['keepalived', 'haproxy']) {
      expect(g.images.get(name)).toMatchObject({parent: 'base', ref: ref(name)})
      expect(g.images.get(name)!.dockerfile).toContain(`FROM ${ref('base')}`)
    }
  })

  it('run in the foreground (systemd supervises runc), haproxy as master-worker for hitless reloads', async () => {
    const g = await loadImageGraph(await haImages(), VARS, ['keepalived', 'haproxy'])
    expect(g.images.get('keepalived')!.dockerfile).toContain('"/usr/sbin/keepalived", "-n", "-l", "-D"')
    expect(g.images.get('haproxy')!.dockerfile).toContain('"/usr/sbin/haproxy", "-W", "-db"')
  })

  it('ship executable keepalived helper scripts (scripts must be runnable under enable_script_security)', async () => {
    for (const script of ['osctl-keepalived-notify', 'osctl-check-haproxy']) {
      const s = await stat(join(REPO_ROOT, 'images', 'keepalived', script))
      expect(s.mode & 0o777).toBe(0o755)
    }
  })
})
