import {isMap, isScalar} from 'yaml'

import {configDocs, configSchema} from '../site/config-schema.js'
import {knownServices} from '../site/service-catalog.js'
import type {YamlSource} from '../site/yaml-source.js'

/** One kolla setting osctl took over: where it was, and the osctl key it became. */
export interface Mapped {
  from: string
  key: string
  to: string
}

/** One kolla setting osctl could not take over, and why. */
export interface Unmapped {
  location: string
  key: string
  reason: string
}

export interface GlobalsMapping {
  /** osctl.yml keys (snake_case, as written). */
  config: Record<string, unknown>
  /** Registry host part, when globals name one (the import puts the deploy host there). */
  registryHost?: string
  mapped: Mapped[]
  unmapped: Unmapped[]
}

/** kolla globals taken over unchanged → their osctl.yml key. */
const AS_IS: Record<string, string> = {
  openstack_release: 'openstack_release',
  openstack_tag: 'image_tag',
  network_interface: 'network_interface',
  api_interface: 'api_interface',
  docker_namespace: 'namespace',
}

/** kolla's enable_<x> → the osctl services it turns on or off. */
const ENABLE: Record<string, string[]> = {
  enable_keystone: ['keystone'],
  enable_glance: ['glance'],
  enable_placement: ['placement'],
  enable_nova: ['nova', 'nova-compute', 'nova-libvirt'],
  enable_neutron: ['neutron', 'neutron-agents', 'neutron-linuxbridge-agent'],
  enable_mariadb: ['mariadb'],
  enable_memcached: ['memcached'],
  enable_rabbitmq: ['rabbitmq'],
}

/** Settings osctl has no counterpart for yet, with the reason the report gives. */
const WHY: Array<[RegExp, string]> = [
  [/^kolla_(external|internal)_fqdn$/, 'osctl names endpoints by address (internal_vip, external_vip)'],
  [/^neutron_/, "osctl's neutron is ML2/linuxbridge only; its provider network is an existing bridge, neutron_external_bridge in osctl.yml (default br-ex), not an interface"],
  [/_interface$/, 'osctl uses network_interface (and api_interface) for every service'],
  [/^docker_registry_(insecure|username|password)$/, "osctl's site registry has no accounts; it speaks TLS with the site CA when osctl.yml says `tls: {registry: true}`"],
  [/^kolla_enable_tls_backend$/, 'osctl ends TLS in haproxy on the VIPs; the backends speak HTTP on the management network'],
  [/^kolla_copy_ca_into_containers$/, 'osctl gives the site CA to every container that calls an API over TLS'],
  [/_tls_|^kolla_certificates|^kolla_admin_openrc_cacert$/, 'osctl makes its own CA and certificates (`osctl certificates`, SITE/certificates)'],
  [/^openstack_region_name$/, 'osctl names its one region RegionOne'],
  [/^enable_/, 'osctl does not deploy this service'],
]

const TEMPLATE = /\{\{|\{%/

/**
 * globals.yml → osctl.yml: every key osctl has a counterpart for, and every other key the file
 * sets (comments and unset defaults are not settings) in the unmapped list, at its line.
 */
export function mapGlobals(src: YamlSource): GlobalsMapping {
  const out: GlobalsMapping = {config: {}, mapped: [], unmapped: []}
  const root = src.doc.contents
  if (!isMap(root)) return out
  const where = (key: string) => src.locate([key], {key: true})
  const take = (key: string, to: string, value: unknown) => {
    out.config[to] = value
    out.mapped.push({from: where(key), key, to})
  }
  const skip = (key: string, reason: string) => out.unmapped.push({location: where(key), key, reason})
  let enabled = [...knownServices()]
  let touched = false
  for (const pair of root.items) {
    if (!isScalar(pair.key)) continue
    const key = String(pair.key.value)
    const node = pair.value
    const value = isScalar(node) ? node.value : undefined
    const text = value === undefined || value === null ? undefined : String(value)
    if (text !== undefined && TEMPLATE.test(text)) {
      // kolla's own default (api_interface: "{{ network_interface }}") is osctl's default too.
      if (!(key === 'api_interface' && /^\{\{\s*network_interface\s*\}\}$/.test(text.trim()))) skip(key, `a Jinja expression osctl cannot evaluate (${text.trim()}); write the value itself in osctl.yml`)
      continue
    }
    if (text === undefined) {
      skip(key, isScalar(node) ? 'no value' : 'a list or mapping osctl has no counterpart for')
      continue
    }
    if (key in ENABLE) {
      const on = toBool(value)
      if (on === undefined) skip(key, `not yes/no (${text})`)
      else {
        enabled = on ? [...new Set([...enabled, ...ENABLE[key]])] : enabled.filter((s) => !ENABLE[key].includes(s))
        touched = true
        out.mapped.push({from: where(key), key, to: 'enabled_services'})
      }
      continue
    }
    if (Object.hasOwn(AS_IS, key)) {
      take(key, AS_IS[key], text)
      continue
    }
    switch (key) {
      case 'docker_registry': {
        const m = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?$/.exec(text)
        if (!m) skip(key, `not HOST[:PORT] (${text})`)
        else {
          take(key, 'registry', `${m[1]}:${m[2] ?? '5000'}`)
          out.registryHost = m[1].replace(/^\[|\]$/g, '')
        }
        continue
      }
      case 'kolla_base_distro':
        if (text === 'debian') take(key, 'base_distro', text)
        else skip(key, `osctl builds its images on Debian, not ${text}`)
        continue
      case 'nova_compute_virt_type':
        // kolla's kvm/qemu are osctl's too; osctl adds auto (probe each host), its default.
        if (text === 'kvm' || text === 'qemu') take(key, 'nova_virt_type', text)
        else skip(key, `osctl's nova-libvirt runs kvm or qemu, not ${text}`)
        continue
      case 'kolla_internal_vip_address':
        // Without haproxy, kolla's "VIP" is the first controller's own address: osctl's default without internal_vip.
        if (haproxyOff(root)) skip(key, 'enable_haproxy is no: kolla uses it as the first control host, as osctl does without internal_vip')
        else if (/^(\d{1,3}\.){3}\d{1,3}$/.test(text)) take(key, 'internal_vip', text)
        else skip(key, `not an IPv4 address (${text})`)
        continue
      case 'kolla_external_vip_address':
        if (haproxyOff(root)) skip(key, 'enable_haproxy is no: osctl has VIPs only with haproxy and keepalived')
        else if (/^(\d{1,3}\.){3}\d{1,3}$/.test(text)) take(key, 'external_vip', text)
        else skip(key, `not an IPv4 address (${text})`)
        continue
      case 'kolla_enable_tls_internal':
      case 'kolla_enable_tls_external': {
        const on = toBool(value)
        const part = key.endsWith('internal') ? 'internal' : 'external'
        if (on === undefined) skip(key, `not yes/no (${text})`)
        else {
          out.config.tls = {...(out.config.tls as object | undefined), [part]: on}
          out.mapped.push({from: where(key), key, to: `tls.${part}`})
        }
        continue
      }
      case 'keepalived_virtual_router_id':
        if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 255) take(key, 'keepalived_virtual_router_id', Number(text))
        else skip(key, `not 1-255 (${text})`)
        continue
      case 'enable_container_healthchecks': {
        const on = toBool(value)
        if (on === undefined) skip(key, `not yes/no (${text})`)
        else take(key, key, on)
        continue
      }
      case 'openstack_service_workers':
      case 'keystone_api_workers':
      case 'default_container_healthcheck_interval':
      case 'default_container_healthcheck_timeout':
      case 'default_container_healthcheck_retries':
      case 'default_container_healthcheck_start_period': {
        // osctl.yml has the same key; its schema says which numbers it takes.
        const n = /^\d+$/.test(text) ? configSchema.shape[key].safeParse(Number(text)) : undefined
        if (n?.success) take(key, key, n.data)
        else skip(key, `not ${configDocs.fields[key]?.what ?? 'a number osctl.yml takes'} (${text})`)
        continue
      }
      case 'enable_haproxy':
      case 'enable_keepalived':
        // They follow internal_vip in osctl (kolla_internal_vip_address above).
        out.mapped.push({from: where(key), key, to: 'internal_vip'})
        continue
      case 'enable_etcd':
        skip(key, 'osctl always runs etcd, as a system container on the control hosts')
        continue
    }
    if (key.startsWith('enable_') && toBool(value) === false) continue // off in kolla, absent in osctl: nothing lost
    skip(key, WHY.find(([re]) => re.test(key))?.[1] ?? 'no osctl counterpart')
  }
  // kolla's default external VIP is the internal one, and then external TLS follows internal TLS.
  if (out.config.external_vip !== undefined && out.config.external_vip === out.config.internal_vip) delete out.config.external_vip
  const tls = out.config.tls as {internal?: boolean; external?: boolean} | undefined
  if (tls && out.config.external_vip === undefined) out.config.tls = {...tls, external: tls.internal ?? false}
  if (tls && out.config.internal_vip === undefined) {
    // No haproxy to end TLS in: the keys are reported, not mapped.
    delete out.config.tls
    for (const m of out.mapped.filter((e) => e.to.startsWith('tls.'))) out.unmapped.push({location: m.from, key: m.key, reason: 'osctl ends TLS in haproxy on internal_vip, which this config does not set'})
    out.mapped = out.mapped.filter((e) => !e.to.startsWith('tls.'))
  }
  if (touched && enabled.length !== knownServices().length) out.config.enabled_services = knownServices().filter((s) => enabled.includes(s))
  return out
}

/** enable_haproxy set to no (kolla's default is yes); a Jinja value counts as on. */
function haproxyOff(root: {items: Array<{key: unknown; value: unknown}>}): boolean {
  const pair = root.items.find((p) => isScalar(p.key) && p.key.value === 'enable_haproxy')
  return pair !== undefined && isScalar(pair.value) && toBool(pair.value.value) === false
}

/** kolla's yes/no, true/false (YAML 1.2 reads `yes` as a string). */
export function toBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  const t = String(value).toLowerCase()
  return ['yes', 'true', 'on', '1'].includes(t) ? true : ['no', 'false', 'off', '0'].includes(t) ? false : undefined
}
