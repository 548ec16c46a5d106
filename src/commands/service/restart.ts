import {ControlEnvelope, ServiceControlCommand} from '../../cli/service-control-command.js'

const about = ServiceControlCommand.describeAction('restart')

export default class ServiceRestart extends ServiceControlCommand {
  static summary = about.summary
  static description = about.description
  static examples = about.examples
  // Own statics: oclif's parse copies the class's own properties, not inherited ones.
  static args = ServiceControlCommand.args
  static flags = ServiceControlCommand.flags

  async run(): Promise<ControlEnvelope> {
    const {args, flags} = await this.parse(ServiceRestart)
    return this.control('restart', {service: args.service, ...flags})
  }
}
