import {Flags} from '@oclif/core'

import {OsctlCommand, describe, siteFlags} from '../base-command.js'
import {Envelope, HostOutcome, outcome} from '../cli/envelope.js'
import {throwIfInterrupted} from '../cli/interrupt.js'
import {OsctlError, errorMessage} from '../errors.js'
import {fanOut} from '../hosts/fan-out.js'
import {DestroyResult, destroyChanged, destroyServices, destroySystem} from '../ops/destroy.js'
import {deployContext} from '../session/deploy-context.js'

const CONFIRM = 'yes-i-really-really-mean-it'

export default class Destroy extends OsctlCommand {
  static changesHosts = true
  static summary = 'Remove every service container, its unit, volumes (the databases!), configs, ledger and journal from the hosts.'
  static description = describe(
    `Refuses without --${CONFIRM} (exit 2, nothing touched), like kolla-ansible. On every host (or --limit): osctl's service units are ` +
      'disabled, stopped and deleted, every container labelled io.osctl.managed is removed with its volumes and the catalog’s named volumes, ' +
      'then /etc/osctl/<container>/, the ledger (/var/lib/osctl/services), journal and locks. --include-system then removes the system ' +
      'containers (etcd, registry: runc units, slots, revisions, OCI store, data). Docker itself, its images and the site dir stay. ' +
      'Running it again finishes an interrupted destroy and otherwise changes nothing.',
  )
  static examples = [`<%= config.bin %> destroy --${CONFIRM}`, `<%= config.bin %> destroy --include-system --${CONFIRM} --json`]
  static flags = {
    ...siteFlags,
    'include-system': Flags.boolean({summary: 'Also remove the system containers (etcd, registry) with their data and the OCI store.'}),
    [CONFIRM]: Flags.boolean({summary: 'Confirm: every database and every service on the hosts is lost.'}),
  }

  async run(): Promise<Envelope<{includeSystem: boolean}, DestroyResult>> {
    const {flags} = await this.parse(Destroy)
    const ctx = await this.exclusive(await deployContext(flags))
    if (!flags[CONFIRM]) {
      throw new OsctlError('USAGE', `refusing to destroy ${flags['include-system'] ? 'every service and system container' : 'every service'} on ${ctx.targets.map((t) => t.name).join(', ')} without --${CONFIRM}`, {
        location: `--${CONFIRM}`,
        hint: 'Every database goes with it: take `osctl mariadb backup` first.',
      })
    }
    const empty = (): DestroyResult => ({units: [], containers: [], volumes: [], paths: [], system: []})
    const done = new Map<string, DestroyResult>(ctx.targets.map((t) => [t.name, empty()]))
    const failed = new Map<string, unknown>()
    const step = async (what: string, fn: (name: string) => Promise<Partial<DestroyResult>>) => {
      const live = ctx.targets.filter((t) => !failed.has(t.name))
      const results = await fanOut(live, ctx.site.config.sshConcurrency, async (t) => {
        throwIfInterrupted(`${what} on ${t.name}`)
        return fn(t.name)
      })
      for (const r of results) {
        if (!r.ok) failed.set(r.host, r.error)
        const acc = done.get(r.host)!
        for (const [k, v] of Object.entries(r.value ?? {})) acc[k as keyof DestroyResult].push(...(v as string[]))
      }
    }
    const byName = new Map(ctx.targets.map((t) => [t.name, t]))
    await step('removing services', (n) => destroyServices(ctx.session.host(byName.get(n)!), ctx.catalog))
    // System containers last, after every host's services: the registry and etcd serve them.
    if (flags['include-system']) await step('removing system containers', (n) => destroySystem(ctx.session.host(byName.get(n)!), this.reporter()))
    const hosts: Array<HostOutcome & DestroyResult> = ctx.targets.map((t) => {
      const r = done.get(t.name)!
      return outcome(t.name, {ok: !failed.has(t.name), changed: destroyChanged(r), ...(failed.has(t.name) ? {error: failed.get(t.name)} : {}), ...r})
    })
    if (!this.jsonEnabled()) {
      for (const h of hosts) {
        const what = `${h.containers.length} container(s), ${h.units.length} unit(s), ${h.volumes.length} volume(s), ${h.paths.length} path(s)${flags['include-system'] ? `, system: ${h.system.join(', ') || 'none'}` : ''}`
        this.log(h.ok ? `${h.host}: ${h.changed ? `removed ${what}` : 'nothing left to remove'}` : `${h.host}: FAILED ${errorMessage(failed.get(h.host))} (removed so far: ${what})`)
      }
    }
    return this.done({includeSystem: flags['include-system']}, hosts)
  }
}
