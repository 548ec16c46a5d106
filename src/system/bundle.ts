import {Host} from '../hosts/host.js'
import {BindMount, SystemContainerDef} from './definitions.js'
import {OCI_STORE, SlotInfo, bundleDir, revisionDir, slotDir, storeImage, underOciLock} from './layout.js'
import {OciSpec, renderSpec} from './oci-spec.js'
import {RevisionRecord} from './revisions.js'
import {reslotUnit} from './unit.js'

export type ImageSource =
  /** The host pulls it from a registry with skopeo. */
  | {kind: 'registry'; ref: string; /** The registry's CA dir on the host (TLS); absent: plain HTTP. */ certDir?: string}
  /** The machine running osctl sends it as an OCI archive (the registry cannot pull itself). */
  | {kind: 'archive'; ref: string; imageId: string; archive: () => Promise<NodeJS.ReadableStream>}

export interface SpecInputs {
  args: string[]
  env: string[]
  mounts: BindMount[]
  capabilities?: string[]
  nofile?: number
}

/** Copies a revision's image into the host's OCI store as `<name>-r<revision>` (blobs shared between tags). */
export async function fetchImage(host: Host, name: string, revision: number, source: ImageSource): Promise<void> {
  const dest = `oci:${storeImage(name, revision)}`
  await host.run(['mkdir', '-p', OCI_STORE, '/var/lib/osctl/cache'])
  if (source.kind === 'registry') {
    await host.run(underOciLock('exclusive', ['skopeo', 'copy', '--quiet', ...(source.certDir ? ['--src-cert-dir', source.certDir] : ['--src-tls-verify=false']), `docker://${source.ref}`, dest]), {timeoutMs: 1_200_000})
    return
  }
  const archive = `/var/lib/osctl/cache/${name}.oci.tar`
  await host.upload(archive, await source.archive())
  await host.run(underOciLock('exclusive', ['skopeo', 'copy', '--quiet', `oci-archive:${archive}`, dest]), {timeoutMs: 1_200_000})
  await host.remove(archive)
}

/** Unpacks a new revision into a slot and renders its runtime spec; returns the config.json text. */
export async function unpackNew(host: Host, name: string, slot: number, revision: number, needs: SpecInputs): Promise<string> {
  const dir = slotDir(name, slot)
  const bundle = bundleDir(name, slot)
  const image = storeImage(name, revision)
  // `raw unpack` skips the mtree manifest a plain `umoci unpack` computes over every file (we
  // never repack a bundle): 2.5× faster. The runtime config comes from the image config.
  await host.run(
    underOciLock('shared', ['sh', '-c', 'rm -rf "$1" && mkdir -p "$2" && umoci raw unpack --image "$3" "$2/rootfs" && umoci raw runtime-config --image "$3" --rootfs "$2/rootfs" "$2/config.json"', 'unpack', dir, bundle, image]),
    {timeoutMs: 1_200_000},
  )
  const base = JSON.parse((await host.readFile(`${bundle}/config.json`)).toString('utf8')) as OciSpec
  const config = JSON.stringify(renderSpec(base, {...needs, name, revision}), null, 2) + '\n'
  await host.writeFileAtomic(`${bundle}/config.json`, config)
  return config
}

/**
 * Rebuilds a recorded revision in a slot: its rootfs from the OCI store, and the config.json, unit
 * and info.json it ran with (the unit moved to this slot). Returns the slot's new info.
 */
export async function unpackRecorded(host: Host, rec: RevisionRecord, slot: number): Promise<SlotInfo> {
  const {name, revision} = rec.info
  const bundle = bundleDir(name, slot)
  await host.run(underOciLock('shared', ['sh', '-c', 'rm -rf "$1" && mkdir -p "$2" && umoci raw unpack --image "$3" "$2/rootfs"', 'unpack', slotDir(name, slot), bundle, storeImage(name, revision)]), {
    timeoutMs: 1_200_000,
  })
  const info: SlotInfo = {...rec.info, slot}
  await host.writeFileAtomic(`${bundle}/config.json`, rec.config)
  const unit = reslotUnit(rec.unit, {from: bundleDir(name, rec.info.slot), to: bundle}, {from: rec.info.slot, to: slot})
  await host.writeFileAtomic(`${slotDir(name, slot)}/unit`, unit)
  await host.writeFileAtomic(`${slotDir(name, slot)}/info.json`, JSON.stringify(info, null, 2) + '\n')
  return info
}

/**
 * A revision's config files (definitions.ts `files`) live with its record, not in a slot, so every
 * kept revision still has the ones it ran with. Returns the read-only mount of them.
 */
export async function writeRevisionFiles(host: Host, def: SystemContainerDef, revision: number, files: Record<string, string> | undefined): Promise<BindMount[]> {
  if (!files || !def.configDir) return []
  const dir = `${revisionDir(def.name, revision)}/files`
  for (const [file, text] of Object.entries(files)) await host.writeFileAtomic(`${dir}/${file}`, text, {mode: file.endsWith('.key') ? 0o600 : 0o644})
  return [{source: dir, destination: def.configDir, readonly: true}]
}
