import {ControlEnvelope, ServiceControlCommand} from '../../cli/service-control-command.js'

const about = ServiceControlCommand.describeAction('stop')

export default class ServiceStop extends ServiceControlCommand {
  static summary = about.summary
  static description = about.description
  static examples = about.examples
  // Own statics: oclif's parse copies the class's own properties, not inherited ones.
  static args = ServiceControlCommand.args
  static flags = ServiceControlCommand.flags

  async run(): Promise<ControlEnvelope> {
    const {args, flags} = await this.parse(ServiceStop)
    return this.control('stop', {service: args.service, ...flags})
  }
}
