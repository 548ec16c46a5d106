import {HostBootstrap, bootstrap} from '../bootstrap/bootstrap.js'
import {checkSiteTls} from '../certificates/api-tls.js'
import {localSystemImages} from '../bootstrap/local-images.js'
import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {siteContext} from '../session/site-context.js'
import {Envelope, outcome} from '../cli/envelope.js'
import {siteRegistryCertDir} from '../certificates/registry-tls.js'
import {ociArchiveStream, publishImage} from '../images/image-transport.js'

export default class Bootstrap extends OsctlCommand {
  static changesHosts = true
  static summary = 'Prepare hosts: host packages, system containers (registry, etcd) under runc + systemd, then Docker.'
  static description = describe(
    'Runs on every host in parallel. Prechecks first (systemd, cgroups, disk, ports); nothing is changed on a host that fails them. ' +
      'The registry image reaches the deploy host as an OCI archive from this machine; the other images are pushed into it and pulled by the hosts. ' +
      'Docker starts last, ordered after the system containers. Running it again with nothing changed restarts nothing.',
  )
  static examples = ['<%= config.bin %> bootstrap --site ./site', '<%= config.bin %> bootstrap --limit control --json']
  static flags = {...siteFlags}

  async run(): Promise<Envelope<{changed: boolean}, Omit<HostBootstrap, 'host' | 'ok' | 'error'>>> {
    const {flags} = await this.parse(Bootstrap)
    const loaded = await siteContext(flags)
    // Certificates osctl.yml's tls needs: checked here, before the site lock (etcd on the hosts).
    checkSiteTls(loaded.site)
    const ctx = await this.exclusive(loaded)
    const reporter = this.reporter()
    const result = await bootstrap(ctx.site, ctx.targets, {
      connect: (list) => ctx.session.hostsFor(list),
      localImages: (names) => localSystemImages(ctx.site, names, reporter),
      publish: async (local, ref) => publishImage(local.ref, ref, local.imageId, await siteRegistryCertDir(ctx.site)),
      archive: (local) => ociArchiveStream(local.ref, local.imageId),
    }, reporter)
    if (!this.jsonEnabled()) {
      for (const h of result.hosts) {
        const parts = [...h.system.map((s) => `${s.name} r${s.revision} ${s.status}`), ...(h.docker ? [`docker ${h.docker.started ? 'started' : 'unchanged'}`] : [])]
        this.log(`${h.host.padEnd(16)} ${h.ok ? 'ok    ' : 'FAILED'} ${parts.join(', ')}${h.error ? `  ${h.error.message}` : ''}`)
      }
      this.log(result.changed ? 'bootstrap: changes applied' : 'bootstrap: nothing changed')
    }
    const hosts = result.hosts.map(({host, ok, error, ...rest}) => outcome(host, {ok, error, changed: hostChanged(rest), ...rest}))
    return this.done({changed: result.changed}, hosts)
  }
}


const hostChanged = (h: Omit<HostBootstrap, 'host' | 'ok' | 'error'>) =>
  h.packagesInstalled.length > 0 || h.system.some((s) => s.status !== 'unchanged') || Boolean(h.docker?.started)
