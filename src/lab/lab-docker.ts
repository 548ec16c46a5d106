import {existsSync} from 'node:fs'
import type Docker from 'dockerode'

import {DockerClient} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'
import {LABEL_ADDRESS, LABEL_HOST, LABEL_LAB, LabNames, gatewayAddress, hostAddress, labFilter, labLabels} from './names.js'
import {pickSubnet} from './subnet.js'

/** A lab container as Docker reports it; the address comes from our label so stopped hosts have one too. */
export interface LabContainer {
  id: string
  container: string
  host: string
  address: string
  state: string
  image: string
}

const statusOf = (err: unknown): number | undefined => (err as {statusCode?: number}).statusCode

export async function listLabContainers(docker: DockerClient, lab?: string): Promise<LabContainer[]> {
  const list = await docker.raw.listContainers({all: true, filters: JSON.stringify({label: labFilter(lab)})})
  return list
    .map((c) => ({
      id: c.Id,
      container: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      host: c.Labels[LABEL_HOST] ?? '',
      address: c.Labels[LABEL_ADDRESS] ?? '',
      state: c.State,
      image: c.Image,
    }))
    .sort((a, b) => a.container.localeCompare(b.container, 'en', {numeric: true}))
}

/**
 * The lab's bridge network, reused when it exists. A new one takes the first free 10.213.X.0/24;
 * another lab created at the same moment can take that pool first, so an overlap retries the next one.
 */
export async function ensureLabNetwork(docker: DockerClient, names: LabNames): Promise<{network: string; subnet: string; created: boolean}> {
  const existing = await inspectNetwork(docker, names.network)
  if (existing) {
    if (existing.Labels?.[LABEL_LAB] !== names.lab) {
      throw new OsctlError('LAB', `Docker network ${names.network} exists but was not created by osctl for lab ${names.lab}`, {
        hint: `remove it (docker network rm ${names.network}) or pick another --name`,
      })
    }
    const subnet = existing.IPAM?.Config?.[0]?.Subnet
    if (!subnet) throw new OsctlError('LAB', `Docker network ${names.network} has no IPv4 subnet`, {hint: `run \`osctl lab down --name ${names.lab}\` and try again`})
    return {network: names.network, subnet, created: false}
  }
  const tried = new Set<string>()
  for (let attempt = 0; attempt < 8; attempt++) {
    const networks = await docker.raw.listNetworks()
    const used = networks.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => typeof s === 'string'))
    const subnet = pickSubnet(used, tried)
    tried.add(subnet)
    try {
      await docker.raw.createNetwork({
        Name: names.network,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: labLabels(names.lab),
        IPAM: {Driver: 'default', Config: [{Subnet: subnet, Gateway: gatewayAddress(subnet)}]},
      })
      return {network: names.network, subnet, created: true}
    } catch (err) {
      if (/overlap/i.test(errorMessage(err))) continue
      // Lost a race with a concurrent `lab up` of the same lab: use what it created.
      if (statusOf(err) === 409) return ensureLabNetwork(docker, names)
      throw new OsctlError('LAB', `cannot create Docker network ${names.network}: ${errorMessage(err)}`, {cause: err})
    }
  }
  throw new OsctlError('LAB', `no free subnet for ${names.network} after ${tried.size} attempts`, {hint: 'remove unused Docker networks'})
}

async function inspectNetwork(docker: DockerClient, name: string): Promise<Docker.NetworkInspectInfo | undefined> {
  try {
    return await docker.raw.getNetwork(name).inspect()
  } catch (err) {
    if (statusOf(err) === 404) return undefined
    throw err
  }
}

export interface LabHostSpec {
  names: LabNames
  index: number
  image: string
  network: string
  subnet: string
}

/**
 * Creates (or starts) host `index`. Reuse means the same container: its disk, host keys and address
 * survive, exactly like a server that was switched off.
 */
export async function ensureLabContainer(docker: DockerClient, spec: LabHostSpec): Promise<LabContainer & {created: boolean}> {
  const {names, index} = spec
  const name = names.container(index)
  const host = names.hostname(index)
  const address = hostAddress(spec.subnet, index)
  const labels = labLabels(names.lab, {[LABEL_HOST]: host, [LABEL_ADDRESS]: address})
  let created = false
  let info = await inspectContainer(docker, name)
  if (info && info.Config.Labels?.[LABEL_LAB] !== names.lab) {
    throw new OsctlError('LAB', `container ${name} exists but is not part of lab ${names.lab}`, {hint: `remove it (docker rm -f ${name}) or pick another --name`})
  }
  if (!info) {
    await docker.raw.createVolume({Name: names.volume(index), Labels: labels})
    await docker.raw.createContainer({
      name,
      Image: spec.image,
      Hostname: host,
      Labels: labels,
      Cmd: ['/lib/systemd/systemd'],
      StopSignal: 'SIGRTMIN+3',
      // `docker stop` shuts the host down as a real one shuts down: systemd stops every unit in
      // order (keepalived, then the APIs, then what they use). Docker's default 10 s killed
      // what was left mid-shutdown (a mariadb node then needed a state transfer to rejoin).
      StopTimeout: 120,
      HostConfig: {
        // The verified minimum for systemd as PID 1 on this engine (--privileged is refused here).
        CapAdd: ['ALL'],
        CapDrop: ['SYS_RESOURCE'],
        SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
        CgroupnsMode: 'host',
        // Hardware virtualization where this machine has it (nova probes whether it really works).
        ...(existsSync('/dev/kvm') ? {Devices: [{PathOnHost: '/dev/kvm', PathInContainer: '/dev/kvm', CgroupPermissions: 'rwm'}]} : {}),
        Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw', `${names.volume(index)}:/var/lib/docker`],
        Tmpfs: {'/run': '', '/run/lock': ''},
        RestartPolicy: {Name: 'no'},
        NetworkMode: spec.network,
      },
      // A static address so `docker restart` (a reboot) keeps what inventory.yml and known_hosts say.
      NetworkingConfig: {EndpointsConfig: {[spec.network]: {IPAMConfig: {IPv4Address: address}}}},
    } as Docker.ContainerCreateOptions)
    created = true
    info = await inspectContainer(docker, name)
  }
  if (!info) throw new OsctlError('LAB', `container ${name} disappeared right after it was created`)
  if (!info.State.Running) await docker.raw.getContainer(info.Id).start()
  return {id: info.Id, container: name, host, address: info.Config.Labels?.[LABEL_ADDRESS] ?? address, state: 'running', image: info.Config.Image, created}
}

async function inspectContainer(docker: DockerClient, name: string): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    return await docker.raw.getContainer(name).inspect()
  } catch (err) {
    if (statusOf(err) === 404) return undefined
    throw err
  }
}

export interface RemovedObjects {
  containers: string[]
  volumes: string[]
  networks: string[]
}

/** Removes everything carrying the lab's labels (or any lab's, for --all); missing objects are fine. */
export async function removeLab(docker: DockerClient, lab?: string): Promise<RemovedObjects> {
  const filters = JSON.stringify({label: labFilter(lab)})
  const containers = await listLabContainers(docker, lab)
  await Promise.all(containers.map((c) => ignore404(docker.raw.getContainer(c.id).remove({force: true}))))
  const {Volumes: volumes} = await docker.raw.listVolumes({filters})
  await Promise.all((volumes ?? []).map((v) => ignore404(docker.raw.getVolume(v.Name).remove())))
  const networks = await docker.raw.listNetworks({filters})
  await Promise.all(networks.map((n) => ignore404(docker.raw.getNetwork(n.Id).remove())))
  return {containers: containers.map((c) => c.container), volumes: (volumes ?? []).map((v) => v.Name).sort(), networks: networks.map((n) => n.Name).sort()}
}

async function ignore404(p: Promise<unknown>): Promise<void> {
  try {
    await p
  } catch (err) {
    if (statusOf(err) !== 404) throw err
  }
}
