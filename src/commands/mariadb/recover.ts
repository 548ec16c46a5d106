import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {Envelope, outcome} from '../../cli/envelope.js'
import {groupHosts} from '../../catalog/group-hosts.js'
import {OsctlError} from '../../errors.js'
import {RecoverResult, recoverGalera} from '../../ops/galera-recover.js'
import {deployContext} from '../../session/deploy-context.js'

export default class MariadbRecover extends OsctlCommand {
  static changesHosts = true
  static summary = 'Bring the Galera cluster back after every node went down, from the most advanced node.'
  static description = describe(
    'kolla’s mariadb_recovery. Every mariadb host must answer. If a node is still in a primary component nothing is changed. ' +
      'Otherwise mariadb is stopped on every host, each node’s last committed position is read (grastate.dat after a clean ' +
      'shutdown, else mariadbd --wsrep-recover), the cluster is bootstrapped from the node with the highest seqno (among equals the ' +
      'one that left last, then inventory order), and the others are started one at a time, each Synced before the next. ' +
      '--json says which node it chose and why, with every node’s position.',
  )
  static examples = ['<%= config.bin %> mariadb recover', '<%= config.bin %> mariadb recover --json']
  static flags = {site: siteFlags.site}

  async run(): Promise<Envelope<RecoverResult>> {
    const {flags} = await this.parse(MariadbRecover)
    const ctx = await this.exclusive(await deployContext({site: flags.site}))
    const def = ctx.catalog.get('mariadb')
    const hosts = def ? groupHosts(ctx.site, def) : []
    if (hosts.length < 2) {
      throw new OsctlError('USAGE', `mariadb runs on ${hosts.length === 0 ? 'no host' : `one host (${hosts[0].name})`}: there is no Galera cluster to recover`, {
        location: ctx.site.files.inventory,
        hint: 'Galera runs when the control group has several hosts; a single server only needs `osctl service start mariadb`',
      })
    }
    const reporter = this.reporter()
    const result = await recoverGalera(hosts.map((h) => ({host: ctx.session.host(h), docker: ctx.session.docker(h)})), reporter)
    if (!this.jsonEnabled()) {
      if (result.chosen === null) this.log(result.reason)
      else {
        for (const n of result.nodes) this.log(`${n.host}: seqno ${n.seqno} (${n.source}${n.safeToBootstrap ? ', safe_to_bootstrap' : ''})`)
        this.log(`bootstrapped from ${result.chosen}: ${result.reason}; rejoined ${result.rejoined.join(', ')}`)
      }
    }
    return this.done(result, hosts.map((h) => outcome(h.name, {ok: true, changed: result.chosen !== null})))
  }
}
