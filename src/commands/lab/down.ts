import {Flags} from '@oclif/core'

import {Envelope} from '../../cli/envelope.js'
import {OsctlCommand, describe} from '../../base-command.js'
import {localDocker} from '../../docker/docker-client.js'
import {RemovedObjects, removeLab} from '../../lab/lab-docker.js'
import {DEFAULT_LAB} from '../../lab/names.js'

export interface LabDownResult extends RemovedObjects {
  /** The lab removed, or null for --all. */
  lab: string | null
}

export default class LabDown extends OsctlCommand {
  static summary = 'Remove a lab: its containers (forced), their volumes and the network.'
  static description = describe(
    'Removes only Docker objects labelled io.osctl.managed=true and io.osctl.lab=NAME (any lab with --all). The site dir and the cached images stay. Running it again removes nothing and succeeds.',
  )
  static examples = ['<%= config.bin %> lab down', '<%= config.bin %> lab down --name demo --json', '<%= config.bin %> lab down --all']
  static flags = {
    name: Flags.string({summary: 'Lab name.', default: DEFAULT_LAB, exclusive: ['all']}),
    all: Flags.boolean({summary: 'Remove every lab osctl created on this engine.'}),
  }

  async run(): Promise<Envelope<LabDownResult>> {
    const {flags} = await this.parse(LabDown)
    const docker = localDocker()
    await docker.ping()
    const lab = flags.all ? undefined : flags.name
    const removed = await removeLab(docker, lab)
    const reporter = this.reporter()
    for (const c of removed.containers) reporter.emit('lab.removed', {name: c})
    for (const n of [...removed.volumes, ...removed.networks]) reporter.emit('lab.removed', {name: n})
    if (removed.containers.length + removed.volumes.length + removed.networks.length === 0) {
      reporter.emit('lab.nothing-to-remove', lab ? {lab} : {})
    }
    return this.done({lab: lab ?? null, ...removed})
  }
}
