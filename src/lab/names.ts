import {LABELS} from '../labels.js'

/**
 * How a lab's Docker objects are named and labelled. Names make `docker ps` readable; labels are what
 * osctl trusts when it sweeps (`lab down`, tests), so a lab never touches what it did not create.
 */
export const LABEL_MANAGED = LABELS.managed
export const LABEL_LAB = LABELS.lab
/** Inventory name of the host a container plays (lab-1 …). */
export const LABEL_HOST = LABELS.labHost
/** Static address, kept on the container so a stopped host still reports it. */
export const LABEL_ADDRESS = LABELS.labAddress
export const LABEL_LAB_IMAGE = LABELS.labImage

export const DEFAULT_LAB = 'lab'

/** Becomes part of container, network and host names: keep it DNS- and Docker-friendly. */
export const LAB_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/

export interface LabNames {
  lab: string
  network: string
  hostname(i: number): string
  container(i: number): string
  volume(i: number): string
}

export function labNames(lab: string): LabNames {
  return {
    lab,
    network: `osctl-${lab}`,
    hostname: (i) => `${lab}-${i}`,
    container: (i) => `osctl-${lab}-${i}`,
    volume: (i) => `osctl-${lab}-${i}-docker`,
  }
}

export function labLabels(lab: string, extra: Record<string, string> = {}): Record<string, string> {
  return {[LABEL_MANAGED]: 'true', [LABEL_LAB]: lab, ...extra}
}

/** Docker label filters: one lab, or every lab (`--all`). */
export function labFilter(lab?: string): string[] {
  return lab === undefined ? [`${LABEL_MANAGED}=true`, LABEL_LAB] : [`${LABEL_MANAGED}=true`, `${LABEL_LAB}=${lab}`]
}

/** Host i (1-based) gets .10+i: .1 is the bridge gateway, the low addresses stay free for later use. */
export function hostAddress(subnet: string, i: number): string {
  const base = subnet.split('/')[0].split('.').slice(0, 3).join('.')
  return `${base}.${10 + i}`
}

export function gatewayAddress(subnet: string): string {
  return `${subnet.split('/')[0].split('.').slice(0, 3).join('.')}.1`
}
