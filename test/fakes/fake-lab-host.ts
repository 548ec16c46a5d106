import {loadCatalog} from '../../src/catalog/catalog.js'
import type {DeployContext} from '../../src/session/deploy-context.js'
import {deploy} from '../../src/apply/deploy.js'
import {HostSession} from '../../src/session/host-session.js'
import {Overrides} from '../../src/catalog/overrides.js'
import {planDeploy} from '../../src/catalog/plan.js'
import {TEMPLATES_DIR} from '../../src/paths.js'
import {RecordingReporter} from '../../src/events/reporters.js'
import type {Site} from '../../src/site/types.js'
import {FakeCall, FakeHost} from './fake-host.js'
import {FakeEngine} from './fake-engine.js'
import {labKeystone} from './fake-keystone.js'
import {runObserveScript} from './observe-shim.js'
import {runSwapScript} from './swap-shim.js'

/**
 * A FakeHost that answers what deploy and rollback run: install -d, ls/find over its files,
 * systemctl driving the engine's containers, and health probes that succeed.
 */
export type LabHost = FakeHost & {swap: (call: FakeCall) => Promise<{exitCode: number; stderr: string}>}

export function labHost(name: string, address: string, engine: FakeEngine): LabHost {
  const active = new Set<string>()
  const h = new FakeHost(name, address)
  // Keystone, wherever the site puts it: the services' registrations (keystone-register.ts).
  h.onTcp('*', 5000, () => labKeystone.connect())
  const under = (dir: string) => [...h.files.keys()].filter((k) => k.startsWith(`${dir}/`)).map((k) => k.slice(dir.length + 1))
  h.on(/^install -d /, () => '')
  // revision-restore.ts's host-side config sync: DST's files become exactly SRC's.
  h.on(/^sh -c [\s\S]* osctl-sync-config /, (c) => {
    const [src, dst] = c.argv!.slice(-2)
    if (under(src).length === 0) return {exitCode: 1, stderr: `test -d ${src} failed\n`}
    for (const f of under(dst)) if (!h.files.has(`${src}/${f}`)) h.files.delete(`${dst}/${f}`)
    for (const f of under(src)) h.files.set(`${dst}/${f}`, {...h.files.get(`${src}/${f}`)!, mode: 0o600})
    return ''
  })
  h.on(/^sh -c .*ls -1/, (c) => [...new Set(under(c.argv!.at(-1)!).map((k) => k.split('/')[0]))].join('\n'))
  h.on(/^sh -c .*find \. -type f/, (c) => under(c.argv!.at(-1)!).join('\n'))
  // Units enabled (enable, disable; with --now they also start or stop, like systemctl).
  const enabled = new Set<string>()
  h.on(/^systemctl /, (c) => {
    const [, verb, ...rest] = c.argv!
    const unit = rest.filter((r) => !r.startsWith('-'))[0] ?? ''
    const container = unit.replace(/^osctl-svc-/, '').replace(/\.service$/, '')
    const now = rest.includes('--now')
    // One line per unit, like systemctl; exit 0 when any of them is active.
    const units = rest.filter((r) => !r.startsWith('-'))
    if (verb === 'is-active') return {exitCode: units.some((u) => active.has(u)) ? 0 : 3, stdout: units.map((u) => (active.has(u) ? 'active\n' : 'inactive\n')).join('')}
    if (verb === 'is-enabled') return {exitCode: enabled.has(unit) ? 0 : 1, stdout: rest.includes('--quiet') ? '' : enabled.has(unit) ? 'enabled\n' : 'disabled\n'}
    if (verb === 'enable') enabled.add(unit)
    if (verb === 'disable') enabled.delete(unit)
    // The unit's ExecStopPost (service-unit.ts STANDBY_DROP_SCRIPT): a running rollback standby goes with any stop.
    if ((verb === 'stop' || verb === 'restart' || (verb === 'disable' && now)) && engine.containers.get(`${container}.prev`)?.state === 'running') void engine.removeContainer(`${container}.prev`)
    if (verb === 'start' || verb === 'restart' || (verb === 'enable' && now)) {
      active.add(unit)
      void engine.startContainer(container)
    }
    if (verb === 'stop' || (verb === 'disable' && now)) {
      active.delete(unit)
      void engine.stopContainer(container)
    }
    return ''
  })
  // container-swap.ts keepStandby's host part (the old timer stopped, the warm-up weight, the new timer): the engine starts the standby.
  h.on(/^sh -c [\s\S]* osctl-standby /, () => '')
  // host-state.ts's observation: the real script, in /bin/sh, over the fake's files and units.
  h.on(/^sh -c [\s\S]* osctl-observe /, (c) => runObserveScript(h, c.argv!, {active, enabled}))
  // container-swap.ts's host-side swap: the real script, in /bin/sh, acting on the engine.
  const swap = (c: FakeCall) => runSwapScript(h, engine, c.argv!, {active, enabled})
  h.on(/^systemd-run /, swap)
  h.on(/^timeout 5 bash -c /, () => 'HTTP/1.0 200 OK\r\n\r\n')
  // connected-probe.ts: healthy while the pid it was given is a running container's main process.
  h.on(/^timeout 5 bash -c [\s\S]* osctl-connected \d+ /, async (c) => {
    const pid = Number(c.argv!.at(-3))
    for (const name of engine.containers.keys()) if ((await engine.inspectContainer(name))?.pid === pid) return ''
    return {exitCode: 1, stderr: `the container's process ${pid} is not running\n`}
  })
  return Object.assign(h, {swap})
}

/**
 * A whole fake lab for the deploy flow: a FakeEngine and a labHost per site host, each registry
 * holding `refs`, mariadb dumps answered by `dump`, restores accepted; `deploy(services)` runs a
 * real deploy over it, `ctx()` is the DeployContext upgrade/rollback take.
 */
export function fakeLab(site: Site, refs: string[], dump: (call: FakeCall) => string = () => '-- dump\n') {
  const engines = new Map(site.hosts.map((h) => [h.name, new FakeEngine()]))
  for (const e of engines.values()) for (const ref of refs) e.registry.add(ref)
  const hosts = new Map(site.hosts.map((h) => [h.name, labHost(h.name, h.address, engines.get(h.name)!)]))
  for (const h of hosts.values()) {
    h.on(/^docker exec mariadb mariadb-dump /, dump)
    h.on(/^docker exec -i mariadb mariadb$/, () => '')
  }
  const session = fakeSession(hosts, engines)
  const ctx = async (): Promise<DeployContext> => ({site, catalog: await loadCatalog(TEMPLATES_DIR), overrides: Overrides.empty(), session, targets: site.hosts})
  /** registryDigests: what checkImages would have found in the registry (image ref → manifest digest). */
  const deployed = async (services: string[], registryDigests?: Map<string, string>, reporter = new RecordingReporter()) => {
    const plan = planDeploy(site, await loadCatalog(TEMPLATES_DIR), Overrides.empty(), {services, targets: site.hosts})
    if (registryDigests) plan.registryDigests = registryDigests
    return deploy(site, plan, site.hosts, session, reporter)
  }
  return {engines, hosts, session, ctx, deploy: deployed}
}

/**
 * keystone answers its health check on :5000 on every host of the lab, except a keystone started
 * from an image whose ref ends with `:<tag>`: it crashes at start (exits 1, nothing on the port).
 */
export function keystoneCrashesOn(lab: Pick<ReturnType<typeof fakeLab>, 'hosts' | 'engines'>, tag: string): void {
  for (const [name, h] of lab.hosts) {
    h.on(/^timeout 5 bash -c .*5000/, () => {
      const c = lab.engines.get(name)!.containers.get('keystone')
      if (!c?.image.endsWith(`:${tag}`)) return 'HTTP/1.0 300 Multiple Choices\r\n\r\n'
      Object.assign(c, {state: 'exited', exitCode: 1})
      return {exitCode: 7}
    })
  }
}

/** `osctl/<image>:<tag>` in the fake site's registry, for every image and tag. */
export const registryRefs = (images: string[], tags: string[]) => images.flatMap((i) => tags.map((t) => `10.0.0.11:4000/osctl/${i}:${t}`))

/** A HostSession over fake hosts and engines keyed by host name. */
export function fakeSession(hosts: Map<string, FakeHost>, engines: Map<string, FakeEngine>): HostSession {
  return new HostSession({host: (h) => hosts.get(h.name)!, docker: (h) => engines.get(h.name)!})
}
