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
  return {
    ...(p.capAdd ? {CapAdd: p.capAdd} : {}),
    ...(p.devices ? {Devices: p.devices.map((d) => ({PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm'}))} : {}),
    ...(p.deviceCgroupRules ? {DeviceCgroupRules: p.deviceCgroupRules} : {}),
    ...(p.securityOpt ? {SecurityOpt: p.securityOpt} : {}),
    ...(p.pid ? {PidMode: p.pid} : {}),
    ...(p.cgroupns ? {CgroupnsMode: p.cgroupns} : {}),
  }
}
