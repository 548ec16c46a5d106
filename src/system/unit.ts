import nunjucks from 'nunjucks'

import {UNITS_DIR} from '../paths.js'

const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(UNITS_DIR), {autoescape: false, throwOnUndefined: true, trimBlocks: true})

export interface UnitInput {
  name: string
  description: string
  revision: number
  slot: number
  bundle: string
  dataDirs: string[]
  runc?: string
  /** Default true; false: started and stopped without waiting for Docker (definitions.ts `beforeDocker`). */
  beforeDocker?: boolean
}

export const unitName = (name: string) => `osctl-${name}.service`
export const containerId = (name: string) => `osctl-${name}`

/** The unit points at the slot's bundle, not at `current`, so each slot's unit is exactly what ran it. */
export function renderSystemUnit(input: UnitInput): string {
  return env.render('system-container.service.njk', {
    name: input.name,
    description: input.description,
    revision: input.revision,
    slot: input.slot,
    bundle: input.bundle,
    data_dirs: input.dataDirs,
    container_id: containerId(input.name),
    runc: input.runc ?? '/usr/sbin/runc',
    before_docker: input.beforeDocker ?? true,
  })
}

/** Reads the marker line of a unit osctl generated; undefined means osctl does not own the file. */
export function parseUnitMarker(text: string): {name: string; revision: number; slot: number} | undefined {
  const m = /^# osctl-managed: system\/(\S+) revision=(\d+) slot=(\d)/m.exec(text)
  return m ? {name: m[1], revision: Number(m[2]), slot: Number(m[3])} : undefined
}

/**
 * A revision's unit moved to the other slot: only the marker and the bundle path name a slot, so
 * the rest of the text (what that revision ran with) is kept byte for byte.
 */
export function reslotUnit(text: string, bundles: {from: string; to: string}, slots: {from: number; to: number}): string {
  if (slots.from === slots.to) return text
  return text
    .replace(/^(# osctl-managed: system\/\S+ revision=\d+ slot=)\d/m, `$1${slots.to}`)
    .replaceAll(`--bundle ${bundles.from} `, `--bundle ${bundles.to} `)
}
