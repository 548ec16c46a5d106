import type Docker from 'dockerode'

import type {ContainerCreateOptions} from './types.js'

/** The engine's create body for osctl's container options (unset options are left out, not defaulted). */
export function createBody(o: ContainerCreateOptions): Docker.ContainerCreateOptions {
  return {
    name: o.name,
    Image: o.image,
    ...(o.command ? {Cmd: o.command} : {}),
    Env: Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: o.labels ?? {},
    ...(o.healthcheck
      ? {
          Healthcheck: {
            Test: o.healthcheck.test,
            Interval: o.healthcheck.intervalSeconds * 1e9,
            Timeout: o.healthcheck.timeoutSeconds * 1e9,
            Retries: o.healthcheck.retries,
            ...(o.healthcheck.startPeriodSeconds ? {StartPeriod: o.healthcheck.startPeriodSeconds * 1e9} : {}),
          },
        }
      : {}),
    HostConfig: {
      Binds: o.binds ?? [],
      NetworkMode: o.networkMode ?? 'default',
      RestartPolicy: {Name: o.restartPolicy ?? 'no'},
      ...privileges(o.privileges),
    },
  }
}

function privileges(p: ContainerCreateOptions['privileges']): Partial<Docker.HostConfig> {
  if (!p) return {}
  // `systempaths=unconfined` is the docker CLI's word for empty masked and read-only path lists
  // (a writable /proc/sys: neutron's agents set sysctls in their namespaces); the engine's API
  // refuses it in SecurityOpt ("invalid --security-opt 2").
  const unconfinedPaths = p.securityOpt?.includes('systempaths=unconfined') ?? false
  const securityOpt = p.securityOpt?.filter((o) => o !== 'systempaths=unconfined')
  return {
    ...(p.capAdd ? {CapAdd: p.capAdd} : {}),
    ...(p.devices ? {Devices: p.devices.map((d) => ({PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm'}))} : {}),
    ...(p.deviceCgroupRules ? {DeviceCgroupRules: p.deviceCgroupRules} : {}),
    ...(securityOpt && securityOpt.length > 0 ? {SecurityOpt: securityOpt} : {}),
    ...(unconfinedPaths ? {MaskedPaths: [], ReadonlyPaths: []} : {}),
    ...(p.pid ? {PidMode: p.pid} : {}),
    ...(p.cgroupns ? {CgroupnsMode: p.cgroupns} : {}),
  }
}
