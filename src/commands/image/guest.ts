import {Flags} from '@oclif/core'

import {Envelope} from '../../cli/envelope.js'
import {OsctlCommand, describe} from '../../base-command.js'
import {formatSize} from '../../images/build-images.js'
import {GuestImage, buildGuestImage} from '../../images/guest/guest-image.js'

export default class ImageGuest extends OsctlCommand {
  static summary = 'Build the test guest disk (osctl-guest.qcow2): Debian cloud kernel + busybox initramfs.'
  static description = describe(
    [
      'A small VM image made only from Debian packages (linux-image-cloud-amd64, busybox-static, syslinux): its init',
      'loads the virtio modules, takes an address by DHCP, reads the instance id from the metadata service and prints',
      '`osctl-guest: ip=…`, `osctl-guest: instance-id=…` (or `osctl-guest: metadata-failed …`) on the serial console,',
      'then stays up answering ping. Sources are in images/guest/. The disk is built once per content (those files and',
      'the package versions apt offers) under $OSCTL_CACHE_DIR/guest/ (default /var/cache/osctl/guest/); --out copies',
      'it. Host tools: cpio, fdisk, dosfstools, mtools, syslinux, kmod, qemu-utils (exit 5 gives the apt-get line when',
      'one is missing); no loop device, no mount.',
    ].join(' '),
  )

  static examples = ['<%= config.bin %> image guest --out ./osctl-guest.qcow2', '<%= config.bin %> image guest --json']
  static flags = {
    out: Flags.string({summary: 'Copy the qcow2 disk to this file (default: print the cached path only).'}),
  }

  async run(): Promise<Envelope<{image: GuestImage}>> {
    const {flags} = await this.parse(ImageGuest)
    const image = await buildGuestImage({out: flags.out, reporter: this.reporter()})
    if (!this.jsonEnabled()) this.log(`${image.path} (${image.format}, ${formatSize(image.size)}, ${image.digest}, kernel ${image.kernel}${image.cached ? ', cached' : ''})`)
    return this.done({image})
  }
}
