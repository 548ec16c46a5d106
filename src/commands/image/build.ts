import {Args, Flags} from '@oclif/core'

import {localCertDir} from '../../certificates/registry-tls.js'
import {Envelope} from '../../cli/envelope.js'
import {OsctlCommand, describe} from '../../base-command.js'
import {BuildImagesResult, buildImages} from '../../images/build-images.js'
import {ensureRootfsImage} from '../../images/debootstrap.js'
import {imageContext, imageFlags} from '../../images/image-context.js'

export default class ImageBuild extends OsctlCommand {
  static changesHosts = true
  static summary = 'Build images from images/<name>/Dockerfile.njk (and their parents), skipping unchanged ones.'
  static description = describe(
    [
      'Without NAME builds every image; with names, those and their ancestors only. Parents come from the FROM',
      'lines. An image whose tag already carries the same context hash (rendered Dockerfile, files, parent) is not',
      'rebuilt. A failed image skips its descendants; unrelated images are still built, then the command exits 1.',
      'Values come from osctl.yml in --site when it exists, else from defaults; --registry/--namespace/--tag override.',
    ].join(' '),
  )

  static examples = ['<%= config.bin %> image build', '<%= config.bin %> image build etcd registry --push', '<%= config.bin %> image build --tag 2 --parallel 4 --json']
  static strict = false
  static args = {names: Args.string({description: 'Images to build (with their ancestors); default all.'})}
  static flags = {
    ...imageFlags,
    push: Flags.boolean({summary: 'Push every built or unchanged image to the registry afterwards.'}),
    parallel: Flags.integer({summary: 'How many images build at once.', default: 2, min: 1, max: 32}),
  }

  async run(): Promise<Envelope<BuildImagesResult>> {
    const {argv, flags} = await this.parse(ImageBuild)
    const reporter = this.reporter()
    const {docker, imagesDir, resolved} = await imageContext(flags, reporter)
    const result = await buildImages({
      docker,
      imagesDir,
      vars: resolved.vars,
      names: argv as string[],
      parallel: flags.parallel,
      push: flags.push,
      ...(flags.push && resolved.registryCa ? {pushCertDir: await localCertDir(resolved.registryCa)} : {}),
      reporter,
      ensureRootfs: () => ensureRootfsImage(docker, resolved.rootfs, reporter),
    })
    if (!this.jsonEnabled()) {
      const count = (s: string) => result.images.filter((i) => i.status === s).length
      this.log(`${result.images.length} images: ${count('built')} built, ${count('reused')} reused, ${count('unchanged')} unchanged`)
    }
    return this.done(result)
  }
}
