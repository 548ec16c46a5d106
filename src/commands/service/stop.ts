import {serviceControlCommand} from '../../cli/service-control-command.js'

export default serviceControlCommand('stop')
