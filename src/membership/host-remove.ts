import {isSwapSpare} from '../apply/container-swap.js'
import {observeGaleraNode} from '../apply/galera.js'
import {serviceUnitName, serviceUnitPath} from '../apply/service-unit.js'
import {LABELS, configDir} from '../catalog/container-spec.js'
import type {ContainerClient} from '../docker/types.js'
import {OsctlError} from '../errors.js'
import type {Host} from '../hosts/host.js'
import {clientConfig} from '../ops/client-config.js'
import {journalFile} from '../revisions/journal.js'
import {serviceDir} from '../revisions/ledger.js'
import {assertSecrets, secretValue} from '../site/secrets.js'
import {serviceRegistry} from '../site/service-registry.js'
import type {Site, SiteHost} from '../site/types.js'
import {SYSTEM_CONTAINERS, SYSTEM_DATA_DIR} from '../system/definitions.js'
import {SystemManager} from '../system/manager.js'
import {SlotStore} from '../system/slot-store.js'
import {EtcdMembers, planLeave} from './etcd-members.js'
import {InventoryEdit, removeHostEdit, writeInventory} from './inventory-edit.js'
import {deleteNeutronAgents, novaComputeService} from './nova-services.js'

export interface HostDeps {
  host(h: SiteHost): Host
  docker(h: SiteHost): ContainerClient
}

/** What osctl runs on a host: service containers (by the io.osctl labels) and installed system containers. */
export interface HostRuns {
  containers: Array<{service: string; container: string}>
  system: string[]
}

/** The services whose containers register as neutron agents (deleted from neutron once stopped). */
const NEUTRON_AGENT_SERVICES = ['neutron-agents', 'neutron-linuxbridge-agent']

export type RemoveStep =
  | {kind: 'nova-disable'; via: string}
  | {kind: 'stop-services'; containers: string[]}
  | {kind: 'nova-delete'; via: string}
  | {kind: 'neutron-agents-delete'; via: string}
  | {kind: 'etcd-member-remove'; via: string; id: string}
  | {kind: 'system-remove'; name: string}
  | {kind: 'inventory'}

export interface HostRemoveResult {
  host: string
  runs: HostRuns
  steps: RemoveStep[]
  inventory: string
}

/** Asks the host what osctl runs there (no Docker yet: no service containers). */
export async function whatRuns(host: Host, docker: ContainerClient): Promise<HostRuns> {
  const hasDocker = (await host.exec(['sh', '-c', 'command -v docker'])).exitCode === 0
  const listed = hasDocker ? await docker.listContainers({[LABELS.managed]: 'true', [LABELS.service]: ''}) : []
  const order = serviceRegistry().services
  const containers = listed
    .map((c) => ({service: c.labels[LABELS.service], container: c.name}))
    .sort((a, b) => order.indexOf(b.service) - order.indexOf(a.service) || a.container.localeCompare(b.container))
  const system: string[] = []
  const slots = new SlotStore(host)
  for (const def of SYSTEM_CONTAINERS) if ((await slots.read(def.name)).current) system.push(def.name)
  return {containers, system}
}

/**
 * The order a drain takes, from what runs: nova stops scheduling onto the host before its
 * nova-compute stops, and forgets it only after (a running nova-compute would register again);
 * the etcd member leaves the cluster (asked of another member) before its etcd stops; the
 * inventory changes last, so an interrupted drain can be run again.
 */
export function planRemoval(input: {runs: HostRuns; drain: boolean; name: string; novaVia?: string; neutronVia?: string; etcd?: {via: string; id: string}; galeraPeers?: number}): RemoveStep[] {
  const {runs} = input
  const services = [...new Set(runs.containers.map((c) => c.service))]
  if (services.length === 0 && runs.system.length === 0) return [{kind: 'inventory'}]
  const what = [...services, ...runs.system.map((s) => `${s} (system)`)].join(', ')
  if (!input.drain) {
    throw new OsctlError('USAGE', `${input.name} runs osctl services: ${what}`, {location: '--drain', hint: `add --drain to stop and remove them (and leave etcd/nova cleanly) before ${input.name} leaves the inventory`})
  }
  // A Galera node leaves its cluster cleanly when its mariadb stops; the only server may not.
  if (services.includes('mariadb') && !(input.galeraPeers && input.galeraPeers > 0)) {
    throw new OsctlError('USAGE', `${input.name} runs mariadb, the site's only database server: draining it would lose every service's data`, {
      location: 'NAME',
      hint: 'keep this host (with internal_vip and several control hosts, mariadb is a Galera cluster whose nodes can leave)',
    })
  }
  if (runs.system.includes('registry')) throw new OsctlError('USAGE', `${input.name} runs the site registry`, {location: 'NAME', hint: 'a site keeps its deploy host'})
  const steps: RemoveStep[] = []
  const compute = services.includes('nova-compute')
  if (compute && !input.novaVia) {
    throw new OsctlError('COMMAND_FAILED', `no other control host runs nova-api to take ${input.name}'s nova-compute service out of nova`, {hint: 'deploy nova on the control hosts first'})
  }
  const agents = services.some((s) => NEUTRON_AGENT_SERVICES.includes(s))
  if (agents && !input.neutronVia) {
    throw new OsctlError('COMMAND_FAILED', `no other control host runs neutron-server to take ${input.name}'s neutron agents out of neutron`, {hint: 'deploy neutron on the control hosts first'})
  }
  if (compute) steps.push({kind: 'nova-disable', via: input.novaVia!})
  if (runs.containers.length > 0) steps.push({kind: 'stop-services', containers: runs.containers.map((c) => c.container)})
  if (compute) steps.push({kind: 'nova-delete', via: input.novaVia!})
  if (agents) steps.push({kind: 'neutron-agents-delete', via: input.neutronVia!})
  for (const name of runs.system) {
    if (name === 'etcd' && input.etcd) steps.push({kind: 'etcd-member-remove', ...input.etcd})
    steps.push({kind: 'system-remove', name})
  }
  steps.push({kind: 'inventory'})
  return steps
}

/**
 * `osctl host remove`: the inventory edit is validated before any host is asked; a host that
 * runs nothing leaves at once, one that runs services only with `drain` (see planRemoval).
 */
export async function removeHost(site: Site, name: string, opts: {drain: boolean; onStep?: (s: RemoveStep) => void}, deps: HostDeps): Promise<HostRemoveResult> {
  const edit = await removeHostEdit(site, name)
  const target = site.hosts.find((h) => h.name === name)!
  const host = deps.host(target)
  const runs = await whatRuns(host, deps.docker(target))
  const others = site.hosts.filter((h) => h.name !== name && h.groups.includes('control'))
  let novaVia: SiteHost | undefined
  let neutronVia: SiteHost | undefined
  let etcd: {via: string; id: string} | undefined
  const busy = runs.containers.length > 0 || runs.system.length > 0
  if (busy && opts.drain && runs.containers.some((c) => c.service === 'nova-compute')) {
    for (const h of others) {
      if ((await deps.docker(h).inspectContainer('nova-api'))?.state !== 'running') continue
      novaVia = h
      break
    }
  }
  if (busy && opts.drain && runs.containers.some((c) => NEUTRON_AGENT_SERVICES.includes(c.service))) {
    for (const h of others) {
      if ((await deps.docker(h).inspectContainer('neutron-server'))?.state !== 'running') continue
      neutronVia = h
      break
    }
  }
  if (busy && opts.drain && runs.system.includes('etcd')) {
    const via = others[0]
    if (via) {
      const step = planLeave(await new EtcdMembers(deps.host(via)).list(), target, via.name)
      if (step.kind === 'member-remove') etcd = {via: step.via, id: step.id}
    }
  }
  // Other Galera nodes that answer as such (a running mariadb with wsrep on another control host).
  let galeraPeers = 0
  if (busy && opts.drain && runs.containers.some((c) => c.service === 'mariadb')) {
    for (const h of others) if ((await observeGaleraNode(deps.host(h)).catch(() => undefined))?.primary) galeraPeers++
  }
  const steps = planRemoval({runs, drain: opts.drain, name, novaVia: novaVia?.name, neutronVia: neutronVia?.name, etcd, galeraPeers})
  // Before the first step: a drain never stops halfway for want of a password.
  if (steps.some((s) => s.kind === 'nova-disable' || s.kind === 'neutron-agents-delete')) assertSecrets(site, {keystone_admin_password: [`host remove --drain (nova-compute or neutron agents of ${name})`]})
  for (const step of steps) {
    await runStep(step, {site, target, host, deps, edit, novaVia})
    opts.onStep?.(step)
  }
  return {host: name, runs, steps, inventory: edit.file}
}

async function runStep(step: RemoveStep, c: {site: Site; target: SiteHost; host: Host; deps: HostDeps; edit: InventoryEdit; novaVia?: SiteHost}): Promise<void> {
  const byName = (n: string) => c.site.hosts.find((h) => h.name === n)!
  switch (step.kind) {
    case 'nova-disable':
    case 'nova-delete': {
      const password = secretValue(c.site.passwords, 'keystone_admin_password')
      await novaComputeService(c.deps.docker(byName(step.via)), step.via, step.kind === 'nova-disable' ? 'disable' : 'delete', {authUrl: clientConfig(c.site).authUrl, password, host: c.target.name})
      return
    }
    case 'neutron-agents-delete': {
      const password = secretValue(c.site.passwords, 'keystone_admin_password')
      await deleteNeutronAgents(c.deps.docker(byName(step.via)), step.via, {authUrl: clientConfig(c.site).authUrl, password, host: c.target.name})
      return
    }
    case 'stop-services':
      return stopServices(c.host, c.deps.docker(c.target), step.containers)
    case 'etcd-member-remove':
      return new EtcdMembers(c.deps.host(byName(step.via))).remove(step.id)
    case 'system-remove':
      await new SystemManager(c.host).remove(step.name)
      // A member removed from the cluster can never start on its old data again.
      if (step.name === 'etcd') await c.host.remove(`${SYSTEM_DATA_DIR}/etcd`)
      return
    case 'inventory':
      return writeInventory(c.edit)
  }
}

/**
 * Units stopped and disabled, containers removed, their configs (which hold passwords), ledgers
 * and journals deleted. Docker volumes are kept: data is never destroyed by a drain.
 */
async function stopServices(host: Host, docker: ContainerClient, containers: string[]): Promise<void> {
  const services = new Set<string>()
  const listed = await docker.listContainers({[LABELS.managed]: 'true', [LABELS.service]: ''})
  for (const name of containers) {
    const info = listed.find((c) => c.name === name)
    if (info) services.add(info.labels[LABELS.service])
    if (!isSwapSpare(name)) await host.exec(['systemctl', 'disable', '--now', serviceUnitName(name)], {timeoutMs: 90_000})
    await docker.stopContainer(name).catch(() => undefined)
    await docker.removeContainer(name)
    if (!isSwapSpare(name)) {
      await host.remove(serviceUnitPath(name))
      await host.remove(configDir(name))
    }
  }
  for (const s of services) {
    await host.remove(serviceDir(s))
    await host.remove(journalFile(s))
  }
  await host.run(['systemctl', 'daemon-reload'])
}
