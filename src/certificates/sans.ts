import {isIP, isIPv4} from 'node:net'

import type {SiteHost} from '../site/types.js'
import type {SubjectAltNames} from './openssl.js'

/**
 * What a host's certificate must name: its inventory name, its inventory address (an IP SAN, or a
 * DNS SAN when the address is a name) and the loopback names, so a service can be reached as
 * https://localhost too. Sorted and canonical, so two sets compare as strings.
 */
export function wantedSans(host: SiteHost): SubjectAltNames {
  const dns = [host.name, 'localhost']
  const ip = ['127.0.0.1']
  if (isIP(withoutZone(host.address))) ip.push(host.address)
  else dns.push(host.address)
  return normalize({dns, ip})
}

/** What the API certificate haproxy serves must name: every VIP (IP SANs). */
export function apiSans(vips: string[]): SubjectAltNames {
  return normalize({dns: [], ip: vips})
}

/**
 * The SANs of a certificate from Node's X509Certificate.subjectAltName
 * (`DNS:lab-1, IP Address:10.0.0.2`); any other kind of name is kept as it is, so it never matches.
 */
export function parseSans(text: string | undefined): SubjectAltNames {
  const dns: string[] = []
  const ip: string[] = []
  for (const entry of (text ?? '').split(', ').filter(Boolean)) {
    if (entry.startsWith('DNS:')) dns.push(entry.slice(4))
    else if (entry.startsWith('IP Address:') && isIP(entry.slice(11))) ip.push(entry.slice(11))
    else dns.push(entry)
  }
  return normalize({dns, ip})
}

export function sameSans(a: SubjectAltNames, b: SubjectAltNames): boolean {
  return formatSans(a) === formatSans(b)
}

/** `DNS:lab-1, DNS:localhost, IP:10.0.0.2, IP:127.0.0.1`, for messages and --json. */
export function formatSans(s: SubjectAltNames): string {
  return [...s.dns.map((d) => `DNS:${d}`), ...s.ip.map((a) => `IP:${a}`)].join(', ')
}

function normalize(s: SubjectAltNames): SubjectAltNames {
  const dns = [...new Set(s.dns.map((d) => d.toLowerCase().replace(/\.$/, '')))].sort()
  const ip = [...new Set(s.ip.map(canonicalIp))].sort()
  return {dns, ip}
}

/** An IP as openssl prints it in a certificate, lower-cased: IPv6 as 8 groups without leading zeros. */
export function canonicalIp(address: string): string {
  const a = withoutZone(address).toLowerCase()
  if (isIPv4(a)) return a
  let s = a
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s)
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number)
    s = `${s.slice(0, v4.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined]
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':')
}

/** A certificate cannot name a link-local zone (`fe80::1%eth0`): the address without it. */
function withoutZone(address: string): string {
  return address.replace(/%.*$/, '')
}
