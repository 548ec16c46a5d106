import {Flags} from '@oclif/core'

import {Envelope, outcome} from '../../cli/envelope.js'
import {OsctlCommand, describe, siteFlags} from '../../base-command.js'
import {deployContext} from '../../session/deploy-context.js'
import {EngineImage, HostPrune, KEEP_REVISIONS, PruneResult, describeReason, pruneImages} from '../../images/image-prune.js'
import {ExitCode} from '../../errors.js'
import {formatSize} from '../../images/build-images.js'

export default class ImagePrune extends OsctlCommand {
  static changesHosts = true
  static summary = "Remove osctl's service images that no kept revision and no container needs from the hosts."
  static description = describe(
    [
      'On each host, for every service in its ledger (/var/lib/osctl/services/), the images of the --keep newest',
      'revisions stay, and so does the image of the current revision even when it is older (after a rollback), and',
      'the image of every existing container, running or not. Only images referenced in the site registry namespace',
      '(<registry>/<namespace>/…) are candidates: other images are never touched. Images are removed by id without',
      'force; one Docker refuses to remove is reported as skipped. `service rollback` cannot return to a revision',
      'whose image was pruned. Space freed is measured from the engine\'s layer usage; a dry run counts the bytes only',
      'the images it would remove hold (layers shared with kept images stay).',
    ].join(' '),
  )

  static examples = ['<%= config.bin %> image prune --dry-run', '<%= config.bin %> image prune --keep 2 --limit compute --json']
  static flags = {
    ...siteFlags,
    keep: Flags.integer({summary: 'Newest revisions of each service whose images stay.', default: KEEP_REVISIONS, min: 1}),
    'dry-run': Flags.boolean({summary: 'Change nothing; list what would be removed.'}),
  }

  async run(): Promise<Envelope<Omit<PruneResult, 'hosts'>, Partial<Omit<HostPrune, 'host'>>>> {
    const {flags} = await this.parse(ImagePrune)
    const ctx = await this.exclusive(await deployContext(flags))
    const result = await pruneImages(ctx, {keep: flags.keep, dryRun: flags['dry-run'], reporter: this.reporter()})
    if (!this.jsonEnabled()) this.print(result)
    const {hosts, ...data} = result
    return this.done(
      data,
      hosts.map((h) => {
        if ('error' in h) return outcome(h.host, {ok: false, exitCode: h.exitCode, error: {code: h.exitCode === ExitCode.UNREACHABLE ? 'HOST_UNREACHABLE' : 'COMMAND_FAILED', message: h.error}})
        const {host, ...rest} = h
        return outcome(host, {ok: h.failed.length === 0, changed: !result.dryRun && h.removed.length > 0, ...(h.failed.length ? {error: `${h.failed.length} image(s) could not be removed`} : {}), ...rest})
      }),
    )
  }

  private print(result: PruneResult): void {
    const short = (i: EngineImage) => `${i.id.replace(/^sha256:/, '').slice(0, 12)}  ${[...i.tags, ...(i.tags.length ? [] : i.digests)].join(', ') || '<none>'}  ${formatSize(i.size)} (${formatSize(i.unique)} own)`
    const verb = result.dryRun ? 'would remove' : 'removed'
    for (const h of result.hosts) {
      if ('error' in h) {
        this.log(`${h.host}: ${h.error}`)
        continue
      }
      this.log(`${h.host}:`)
      for (const i of h.kept) this.log(`  keep    ${short(i)}  (${i.reasons.map(describeReason).join('; ')})`)
      for (const i of h.removed) this.log(`  ${result.dryRun ? 'would  ' : 'remove '} ${short(i)}`)
      for (const i of h.skipped) this.log(`  skip    ${short(i)}  (${i.reason})`)
      for (const i of h.failed) this.log(`  FAILED  ${short(i)}  (${i.reason})`)
      this.log(`  ${summary(h, verb)}`)
    }
    this.log(`${result.dryRun ? 'would free' : 'freed'} ${formatSize(result.freedBytes)} in total (keeping ${result.keep} revision(s) per service)`)
  }
}

function summary(h: HostPrune, verb: string): string {
  const parts = [`${h.kept.length} kept`, `${h.removed.length} ${verb} (${formatSize(h.freedBytes)})`]
  if (h.skipped.length) parts.push(`${h.skipped.length} skipped`)
  if (h.failed.length) parts.push(`${h.failed.length} failed`)
  parts.push(`${h.foreign} other image(s) not touched`)
  return parts.join(', ')
}
