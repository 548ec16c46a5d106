import {CA_CONFIG_FILE} from '../catalog/ca-file.js'
import type {RenderedContainer, RenderedStep} from '../catalog/render.js'
import type {Host} from '../hosts/host.js'
import {registerInKeystone, registrationFromEnv} from './keystone-register.js'

/**
 * A bootstrap step osctl carries out itself (catalog-schema.ts `run`), its environment as input,
 * from the host's network. Returns its run time in ms, as runBootstrapStep does.
 */
export async function runBuiltinStep(host: Host, container: RenderedContainer, step: RenderedStep, where: string): Promise<number> {
  const started = performance.now()
  switch (step.run) {
    case 'keystone-register':
      await registerInKeystone((address, port) => host.openTcp(address, port), registrationFromEnv(step.env, container.files[CA_CONFIG_FILE], `${where}: ${container.service}'s step ${step.name}`), where)
      break
    default:
      throw new Error(`${where}: step ${step.name} of ${container.service} has no builtin ${String(step.run)}`)
  }
  return performance.now() - started
}
