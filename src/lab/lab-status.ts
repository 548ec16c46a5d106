import {DockerClient} from '../docker/docker-client.js'
import {serviceState, systemState} from './lab-boot.js'
import {listLabContainers} from './lab-docker.js'

export interface LabStatusRow {
  name: string
  container: string
  id: string
  address: string
  /** Docker's container state: running, exited, … */
  state: string
  /** `systemctl is-system-running`, or `-` when the container is not running. */
  systemd: string
  /** `systemctl is-active ssh`, or `-` when the container is not running. */
  sshd: string
}

export async function labStatus(docker: DockerClient, lab: string): Promise<LabStatusRow[]> {
  const containers = await listLabContainers(docker, lab)
  return Promise.all(
    containers.map(async (c): Promise<LabStatusRow> => {
      const running = c.state === 'running'
      const [systemd, sshd] = running ? await Promise.all([systemState(docker, c.id), serviceState(docker, c.id, 'ssh')]) : ['-', '-']
      return {name: c.host, container: c.container, id: c.id, address: c.address, state: c.state, systemd, sshd}
    }),
  )
}

/** A plain aligned table: readable in a terminal and in CI logs. */
export function formatTable(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '))
}
