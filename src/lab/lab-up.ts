import {resolve} from 'node:path'

import {DockerClient} from '../docker/docker-client.js'
import {OsctlError, OsctlErrors} from '../errors.js'
import {fanOut} from '../hosts/fan-out.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {loadSite} from '../site/load-site.js'
import {installAuthorizedKey, readHostKey, waitForBoot} from './lab-boot.js'
import {ensureLabContainer, ensureLabNetwork, listLabContainers} from './lab-docker.js'
import {ensureLabImage} from './lab-image.js'
import {checkLabSite, ensureSiteKey, writeLabSite} from './lab-site.js'
import {LAB_NAME, labNames} from './names.js'
import {defaultControl, labGroups} from './site-files.js'

export interface LabUpOptions {
  lab: string
  hosts: number
  site: string
  control?: number
  /** internal_vip = the lab subnet's .250: keepalived and haproxy on the control hosts. */
  vip?: boolean
  withPackages?: boolean
  force?: boolean
  mirror: string
}

export interface LabHostResult {
  name: string
  container: string
  id: string
  address: string
  state: string
  /** systemd state after boot: running, or degraded (see failedUnits). */
  systemd: string
  failedUnits: string[]
  /** false when an existing container was reused. */
  created: boolean
}

export interface LabUpResult {
  lab: string
  network: string
  subnet: string
  site: string
  image: string
  hosts: LabHostResult[]
  /** Site files written or changed by this run. */
  siteChanged: string[]
}

/** Every check that needs no Docker object comes first: bad input changes nothing. */
function validate(opts: LabUpOptions): void {
  if (!LAB_NAME.test(opts.lab)) {
    throw new OsctlError('USAGE', `lab name ${JSON.stringify(opts.lab)} is not valid`, {location: '--name', hint: 'use lower-case letters, digits and -, up to 31 characters, e.g. --name lab'})
  }
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 50) {
    throw new OsctlError('USAGE', `--hosts ${opts.hosts} must be between 1 and 50`, {location: '--hosts'})
  }
  labGroups(
    Array.from({length: opts.hosts}, (_, i) => `h${i}`),
    opts.control ?? defaultControl(opts.hosts),
  )
}

/**
 * Creates (or completes) a lab: N hosts booting systemd on their own bridge network, and a site dir
 * every other command can use unchanged. Re-running it is safe and fast: everything present is reused.
 */
export async function labUp(docker: DockerClient, opts: LabUpOptions, reporter: Reporter = silentReporter): Promise<LabUpResult> {
  validate(opts)
  const site = resolve(opts.site)
  const names = labNames(opts.lab)
  await checkLabSite(site, opts.lab, opts.force ?? false)
  await docker.ping()

  const existing = await listLabContainers(docker, opts.lab)
  const beyond = existing.filter((c) => Number(c.host.slice(opts.lab.length + 1)) > opts.hosts)
  if (beyond.length > 0) {
    throw new OsctlError('USAGE', `lab ${opts.lab} already has ${existing.length} hosts (${existing.map((c) => c.host).join(', ')}); --hosts ${opts.hosts} would drop ${beyond.map((c) => c.host).join(', ')}`, {
      location: '--hosts',
      hint: `osctl never deletes hosts silently: run \`osctl lab down --name ${opts.lab}\` first, or pass --hosts ${existing.length}`,
    })
  }

  const publicKey = await ensureSiteKey(site)
  const image = await ensureLabImage(docker, {mirror: opts.mirror, withPackages: opts.withPackages}, reporter)
  const {network, subnet, created: netCreated} = await ensureLabNetwork(docker, names)
  reporter.emit('lab.network', {network, subnet, created: netCreated})

  const indexes = Array.from({length: opts.hosts}, (_, i) => i + 1)
  const results = await fanOut(
    indexes.map((index) => ({index, name: names.hostname(index)})),
    opts.hosts,
    async ({index, name}) => {
      const c = await ensureLabContainer(docker, {names, index, image, network, subnet})
      reporter.emit('lab.host.booting', {container: c.container, address: c.address, created: c.created}, name)
      const boot = await waitForBoot(docker, c.id, c.address)
      const hostKey = await readHostKey(docker, c.id)
      await installAuthorizedKey(docker, c.id, publicKey)
      reporter.emit('lab.host.up', {container: c.container, systemd: boot.systemd, failedUnits: boot.failed, created: c.created}, name)
      const host: LabHostResult = {name, container: c.container, id: c.id, address: c.address, state: c.state, systemd: boot.systemd, failedUnits: boot.failed, created: c.created}
      return {host, hostKey}
    },
  )
  const failures = results.filter((r) => !r.ok).map((r) => r.error!)
  for (const f of failures) reporter.emit('lab.host.failed', {message: f.message})
  if (failures.length > 0) throw new OsctlErrors(failures.map((e) => new OsctlError('LAB', e.message, {hint: e.hint, cause: e, exitCode: 1})))

  const hosts = results.map((r) => r.value!.host)
  const control = opts.control ?? defaultControl(opts.hosts)
  const spec = {lab: opts.lab, hosts: hosts.map((h) => ({name: h.name, address: h.address})), control, regroup: opts.control !== undefined, ...(opts.vip ? {vip: true} : {})}
  const siteChanged = await writeLabSite(
    site,
    spec,
    results.map((r) => ({address: r.value!.host.address, key: r.value!.hostKey})),
    opts.force ?? false,
  )
  reporter.emit('lab.site', {dir: site, written: siteChanged})
  // What we wrote must be a site every other command accepts; a failure here is an osctl bug.
  await loadSite(site)
  return {lab: opts.lab, network, subnet, site, image, hosts, siteChanged}
}
