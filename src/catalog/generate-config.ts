import {lstat, mkdir, readdir, rm, writeFile} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'

import {OsctlError} from '../errors.js'
import type {DeployPlan} from './plan.js'

/** Marks a directory `config generate` wrote, so a second run may replace its host trees (and no other directory). */
export const GENERATED_MARKER = '.osctl-generated'

export interface GeneratedHost {
  host: string
  /** Per container: the files written under OUT/<host>/<container>/ (as on the host under /etc/osctl/<container>/). */
  containers: Array<{service: string; container: string; files: string[]}>
}

export interface GeneratedConfig {
  out: string
  hosts: GeneratedHost[]
  files: number
}

/**
 * Writes every rendered config of the plan under OUT/<host>/<container>/, the same tree deploy
 * writes under /etc/osctl/ on each host, without contacting any host. Files are 0600 and
 * directories 0700 (configs hold passwords). OUT must be empty, absent, or an earlier output
 * (it has the marker): then the trees of the hosts written now are replaced whole.
 */
export async function generateConfig(plan: DeployPlan, outDir: string): Promise<GeneratedConfig> {
  const out = resolve(outDir)
  await prepare(out)
  const byHost = new Map<string, GeneratedHost>()
  for (const ps of plan.services) {
    for (const [host, rs] of ps.rendered) {
      const h = byHost.get(host) ?? {host, containers: []}
      byHost.set(host, h)
      for (const c of rs.containers) h.containers.push({service: ps.def.name, container: c.name, files: Object.keys(c.files).sort()})
    }
  }
  for (const host of byHost.keys()) await rm(join(out, host), {recursive: true, force: true})
  let files = 0
  for (const ps of plan.services) {
    for (const [host, rs] of ps.rendered) {
      for (const c of rs.containers) {
        for (const [file, text] of Object.entries(c.files)) {
          const path = join(out, host, c.name, file)
          await mkdir(dirname(path), {recursive: true, mode: 0o700})
          await writeFile(path, text, {mode: 0o600})
          files++
        }
      }
    }
  }
  return {out, hosts: [...byHost.values()], files}
}

async function prepare(out: string): Promise<void> {
  const st = await lstat(out).catch(() => undefined)
  if (st && !st.isDirectory()) throw new OsctlError('USAGE', `${out} exists and is not a directory`, {location: '--out', hint: 'name a new or empty directory'})
  if (st) {
    const entries = await readdir(out)
    if (entries.length > 0 && !entries.includes(GENERATED_MARKER)) {
      throw new OsctlError('USAGE', `${out} is not empty and was not written by osctl config generate`, {location: '--out', hint: 'name a new or empty directory (an earlier output is replaced host by host)'})
    }
  }
  await mkdir(out, {recursive: true, mode: 0o700})
  await writeFile(join(out, GENERATED_MARKER), 'Written by `osctl config generate`: OUT/<host>/<container>/ is /etc/osctl/<container>/ on that host.\n', {mode: 0o600})
}
