import {Flags} from '@oclif/core'
import {relative} from 'node:path'

import {Envelope, outcome} from '../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {CertificatesResult, HostCertificate, ensureCertificates} from '../certificates/site-certificates.js'
import {loadSite} from '../site/load-site.js'
import {selectHosts} from '../site/select-hosts.js'

export default class Certificates extends OsctlCommand {
  static summary = "Create the site's CA, a TLS server certificate for every host and one for the VIPs in the site dir (kolla-ansible certificates)."
  static description = describe(
    'Writes SITE/certificates/ca/ca.crt (0644) and ca.key (0600), and SITE/certificates/hosts/<host>.crt and <host>.key (0600) ' +
      'in 0700 directories, with the openssl CLI. Keys are EC P-256, signatures SHA-256; the CA is valid 10 years, host certificates ' +
      "825 days (server authentication only). A host certificate names the host's inventory name, its inventory address (an IP or DNS name), " +
      'localhost and 127.0.0.1. Safe to run again: what is right is kept byte for byte. A host certificate is issued again (with a new key) ' +
      'when its names no longer match the inventory, it expires within 30 days, it or its key is missing, or it was not issued by the site CA; ' +
      '--renew issues every selected host\'s again. The CA is created once and never replaced: ca.crt without ca.key (or the other way ' +
      'round) is an error naming the missing file (exit 2). Files are written atomically; keys are never readable by others. ' +
      'With internal_vip, SITE/certificates/api/api.crt and api.key name every VIP (internal_vip, external_vip): haproxy serves the APIs with it ' +
      'when osctl.yml says `tls: {internal: true}` / `tls: {external: true}` (then `osctl bootstrap` and `osctl deploy`); `tls: {registry: true}` uses ' +
      "the deploy host's certificate. No host is contacted.",
  )
  static examples = ['<%= config.bin %> certificates --site ./site', '<%= config.bin %> certificates --limit cmp-3 --json', '<%= config.bin %> certificates --renew']
  static flags = {
    ...siteFlags,
    renew: Flags.boolean({summary: "Issue the selected hosts' certificates (and the VIPs' one) again, with new keys (never the CA's)."}),
  }

  async run(): Promise<Envelope<Omit<CertificatesResult, 'hosts'>, Omit<HostCertificate, 'host'>>> {
    const {flags} = await this.parse(Certificates)
    // Secrets play no part: passwords.yml is not read.
    const site = await loadSite(flags.site, {passwords: 'ignore'})
    const targets = selectHosts(site, flags.limit)
    const result = await ensureCertificates(site, targets, {renew: flags.renew})
    if (!this.jsonEnabled()) {
      for (const f of result.files) this.log(`${f.status.padEnd(8)} ${relative(site.dir, f.file)}`)
      const count = (s: string) => result.files.filter((f) => f.status === s).length
      this.log(`certificates: ${count('created')} file(s) created, ${count('renewed')} renewed, ${count('kept')} kept under ${result.dir}`)
      for (const h of result.hosts) if (h.reason) this.log(`  ${h.host}: ${h.reason}`)
    }
    const {hosts, ...data} = result
    return this.done(data, hosts.map(({host, ...h}) => outcome(host, {ok: true, changed: h.status !== 'kept', ...h})))
  }
}
