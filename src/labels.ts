/**
 * Every label and annotation osctl puts on what it creates (containers, images, lab hosts, OCI
 * bundles): the one place they are spelled. osctl only ever touches objects carrying `managed`.
 */
export const LABELS = {
  managed: 'io.osctl.managed',
  // service containers (catalog/container-spec.ts)
  service: 'io.osctl.service',
  revision: 'io.osctl.revision',
  configHash: 'io.osctl.config-hash',
  bootstrap: 'io.osctl.bootstrap',
  /** The registry reference a container was created from, or the images/<name> an image was built from. */
  image: 'io.osctl.image',
  // images (images/build-images.ts); swap behaviour the image declares (apply/container-swap.ts)
  contextHash: 'io.osctl.context-hash',
  swap: 'io.osctl.swap',
  readyLog: 'io.osctl.ready-log',
  /** Every osctl image (images/base): the OpenStack release its packages are. */
  openstackRelease: 'io.osctl.openstack-release',
  // system containers' OCI annotations
  system: 'io.osctl.system',
  // lab hosts (lab/)
  lab: 'io.osctl.lab',
  labHost: 'io.osctl.lab-host',
  labAddress: 'io.osctl.lab-address',
  labImage: 'io.osctl.lab-image',
} as const
