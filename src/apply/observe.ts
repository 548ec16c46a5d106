import {posix} from 'node:path'

import type {ContainerClient, ContainerInfo} from '../docker/types.js'
import type {Host} from '../hosts/host.js'
import {configDir} from '../catalog/container-spec.js'
import type {RenderedService} from '../catalog/render.js'
import {JournalFinding, journalFile, parseJournal} from '../revisions/journal.js'
import {FINGERPRINTS, RevisionRecord, serviceDir} from '../revisions/ledger.js'
import {nextName} from './container-swap.js'
import {HostState, observeHost} from './host-state.js'
import {serviceUnitName, serviceUnitPath} from './service-unit.js'

export interface ObservedContainer {
  actual?: ContainerInfo
  /** A `.next` a killed swap may have left. */
  spareNext: boolean
  unitText?: string
  unitActive: boolean
  /** The unit is enabled (systemd UnitFileState enabled): deploy need not enable it again. */
  unitEnabled: boolean
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
 * The host's state of a service (observeHost: one exec on the host, one container list) with the
 * wanted images' ids (pulled: given; else inspected).
 */
export async function observeService(host: Host, docker: ContainerClient, rs: RenderedService, imageIds: Map<string, string> = new Map()): Promise<ObservedService> {
  const ids = new Map(imageIds)
  const [state] = await Promise.all([
    observeHost(host, docker, [rs]),
    ...[...new Set(rs.containers.map((c) => c.imageRef))].filter((ref) => !ids.has(ref)).map(async (ref) => {
      const image = await docker.inspectImage(ref)
      if (image) ids.set(ref, image.id)
    }),
  ])
  return serviceFromHost(state, rs, ids)
}

/** One service's part of a host observation: what decide() compares the rendered service against. */
export function serviceFromHost(state: HostState, rs: RenderedService, imageIds: Map<string, string>): ObservedService {
  const dir = serviceDir(rs.service)
  const text = (p: string) => state.files.get(p)
  const containers = new Map<string, ObservedContainer>()
  for (const c of rs.containers) {
    const actual = state.containers.get(c.name)
    const unit = state.units.get(serviceUnitName(c.name))
    containers.set(c.name, {
      ...(actual ? {actual} : {}),
      spareNext: state.containers.has(nextName(c.name)),
      ...(imageIds.has(c.imageRef) ? {imageId: imageIds.get(c.imageRef)} : {}),
      unitText: text(serviceUnitPath(c.name)),
      unitActive: unit?.active === 'active',
      unitEnabled: unit?.enabled === 'enabled',
      configs: Object.fromEntries(Object.keys(c.files).map((f) => [f, text(posix.join(configDir(c.name), f))])),
    })
  }
  const ledger = state.ledgers.get(rs.service)
  const journalText = text(journalFile(rs.service))
  const keys = text(posix.join(dir, 'bootstrap.json'))
  const fingerprints = text(posix.join(dir, FINGERPRINTS))
  return {
    host: state.host,
    ...(journalText ? {journal: parseJournal(state.host, rs.service, journalText)} : {}),
    ...(ledger?.record ? {record: ledger.record} : {}),
    nextRevision: ledger?.nextRevision ?? 1,
    bootstrapKeys: keys ? (JSON.parse(keys) as Record<string, string>) : {},
    fingerprints: fingerprints ? (JSON.parse(fingerprints) as Record<string, string>) : {},
    containers,
  }
}
