import {Flags} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {OsctlCommand, describe} from '../../base-command.js'
import {localDocker} from '../../docker/docker-client.js'
import {LabStatusRow, formatTable, labStatus} from '../../lab/lab-status.js'
import {DEFAULT_LAB} from '../../lab/names.js'

export interface LabStatusResult {
  lab: string
  hosts: LabStatusRow[]
}

export default class LabStatus extends OsctlCommand {
  static summary = 'Show each lab host: container state, address, systemd state and sshd.'
  static description = describe('Reads the containers labelled with the lab name; nothing is changed. A lab with no hosts prints nothing (and [] with --json).')
  static examples = ['<%= config.bin %> lab status', '<%= config.bin %> lab status --name demo --json']
  static flags = {name: Flags.string({summary: 'Lab name.', default: DEFAULT_LAB})}

  async run(): Promise<Envelope<{lab: string}, LabStatusRow>> {
    const {flags} = await this.parse(LabStatus)
    const docker = localDocker()
    await docker.ping()
    const hosts = await labStatus(docker, flags.name)
    if (!this.jsonEnabled()) {
      if (hosts.length === 0) this.reporter().emit('lab.empty', {lab: flags.name})
      else {
        const rows = [['HOST', 'ADDRESS', 'CONTAINER', 'STATE', 'SYSTEMD', 'SSHD'], ...hosts.map((h) => [h.name, h.address, h.container, h.state, h.systemd, h.sshd])]
        for (const line of formatTable(rows)) this.log(line)
      }
    }
    return this.done({lab: flags.name}, hosts.map((h) => outcome(h.name, {ok: true, ...h})))
  }
}
