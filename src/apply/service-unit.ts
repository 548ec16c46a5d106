import nunjucks from 'nunjucks'
import {posix} from 'node:path'

import {UNITS_DIR} from '../paths.js'

const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(UNITS_DIR), {autoescape: false, throwOnUndefined: true, trimBlocks: true})

/** osctl-svc-<container>.service: one unit per service container, so `systemctl` shows each. */
export const serviceUnitName = (container: string) => `osctl-svc-${container}.service`
export const serviceUnitPath = (container: string) => posix.join('/etc/systemd/system', serviceUnitName(container))

export function renderServiceUnit(input: {service: string; container: string; revision: number}): string {
  return env.render('service-container.service.njk', input)
}

/** The marker line of a unit osctl generated for a service container; undefined: not osctl's file. */
export function parseServiceUnitMarker(text: string): {service: string; container: string; revision: number} | undefined {
  const m = /^# osctl-managed: service\/(\S+)\/(\S+) revision=(\d+)/m.exec(text)
  return m ? {service: m[1], container: m[2], revision: Number(m[3])} : undefined
}
