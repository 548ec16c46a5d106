import {posix} from 'node:path'

import type {ContainerClient, ContainerInfo} from '../docker/types.js'
import type {Host} from '../hosts/host.js'
import {configDir} from '../catalog/container-spec.js'
import type {RenderedService} from '../catalog/render.js'
import {JournalFinding, journalFile, parseJournal} from '../revisions/journal.js'
import {FINGERPRINTS, Ledger, RevisionRecord, serviceDir} from '../revisions/ledger.js'
import {nextName} from './container-swap.js'
import {serviceUnitName, serviceUnitPath} from './service-unit.js'

export interface ObservedContainer {
  actual?: ContainerInfo
  /** A `.next` a killed swap may have left. */
  spareNext: boolean
  unitText?: string
  unitActive: boolean
  /** File name → content of /etc/osctl/<container>/<file> as it is on the host now. */
  configs: Record<string, string | undefined>
  /** Image id of the container's wanted image on this host, when the engine has it. */
  imageId?: string
}

/** One service on one host as it is: what decide() compares the rendered service against. */
export interface ObservedService {
  host: string
  journal?: JournalFinding
  record?: RevisionRecord
  nextRevision: number
  bootstrapKeys: Record<string, string>
  /** The ledger's cache of image path fingerprints (bootstrap-steps.ts). */
  fingerprints: Record<string, string>
  containers: Map<string, ObservedContainer>
}

/**
 * Reads the host's state of a service: the journal, the ledger's current revision and bootstrap
 * keys, every unit file and config file in one batched read, the units' states in one systemctl
 * call, and each container (and the wanted image) from the engine.
 */
export async function observeService(host: Host, docker: ContainerClient, rs: RenderedService, imageIds: Map<string, string> = new Map()): Promise<ObservedService> {
  const dir = serviceDir(rs.service)
  const files = [journalFile(rs.service), posix.join(dir, 'bootstrap.json'), posix.join(dir, FINGERPRINTS), ...rs.containers.flatMap((c) => [serviceUnitPath(c.name), ...Object.keys(c.files).map((f) => posix.join(configDir(c.name), f))])]
  const units = rs.containers.map((c) => serviceUnitName(c.name))
  const ledger = new Ledger(host)
  const [read, active, record, nextRevision, engine] = await Promise.all([
    host.readFiles(files),
    host.exec(['systemctl', 'is-active', ...units]),
    ledger.current(rs.service),
    ledger.nextNumber(rs.service),
    Promise.all(
      rs.containers.map(async (c) => {
        const [actual, next, image] = await Promise.all([docker.inspectContainer(c.name), docker.inspectContainer(nextName(c.name)), imageIds.has(c.imageRef) ? undefined : docker.inspectImage(c.imageRef)])
        return {actual, spareNext: next !== undefined, imageId: imageIds.get(c.imageRef) ?? image?.id}
      }),
    ),
  ])
  const text = (p: string) => read.get(p)?.toString('utf8')
  const states = active.stdout.split('\n')
  const containers = new Map<string, ObservedContainer>()
  for (const [i, c] of rs.containers.entries()) {
    containers.set(c.name, {
      ...engine[i],
      unitText: text(serviceUnitPath(c.name)),
      unitActive: states[i]?.trim() === 'active',
      configs: Object.fromEntries(Object.keys(c.files).map((f) => [f, text(posix.join(configDir(c.name), f))])),
    })
  }
  const journalText = text(journalFile(rs.service))
  const keys = text(posix.join(dir, 'bootstrap.json'))
  const fingerprints = text(posix.join(dir, FINGERPRINTS))
  return {
    host: host.name,
    ...(journalText ? {journal: parseJournal(host.name, rs.service, journalText)} : {}),
    ...(record ? {record} : {}),
    nextRevision,
    bootstrapKeys: keys ? (JSON.parse(keys) as Record<string, string>) : {},
    fingerprints: fingerprints ? (JSON.parse(fingerprints) as Record<string, string>) : {},
    containers,
  }
}

