import {Envelope} from '../../cli/envelope.js'
import {OsctlCommand, describe} from '../../base-command.js'
import {formatSize} from '../../images/build-images.js'
import {imageContext, imageFlags} from '../../images/image-context.js'
import {ImageState, imageStates} from '../../images/image-states.js'

export default class ImageList extends OsctlCommand {
  static summary = 'Images in images/: parent, ref, and whether the engine has them up to date.'
  static description = describe(
    'State compares the context hash of images/<name>/ now with the label of the tagged image in the engine:\nup-to-date, stale (image build would rebuild it) or missing.',
  )

  static flags = {...imageFlags}

  async run(): Promise<Envelope<{images: ImageState[]}>> {
    const {flags} = await this.parse(ImageList)
    const {docker, imagesDir, resolved} = await imageContext(flags, this.reporter())
    await docker.ping()
    const images = await imageStates(docker, imagesDir, resolved.vars)
    if (!this.jsonEnabled()) {
      const rows = [['NAME', 'PARENT', 'REF', 'STATE', 'SIZE'], ...images.map((i) => [i.name, i.parent ?? '-', i.ref, i.state, formatSize(i.size)])]
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
      for (const r of rows) this.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd())
    }
    return this.done({images})
  }
}
