import {createHash} from 'node:crypto'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {DockerClient} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'
import {withBuildLock} from '../images/build-lock.js'
import {RootfsSpec, ensureRootfsImage} from '../images/debootstrap.js'
import {Reporter, silentReporter} from '../events/reporters.js'
import {LABEL_LAB_IMAGE, LABEL_MANAGED} from './names.js'

/** A freshly provisioned bare-metal server: systemd, sshd, apt, and nothing else. */
export const LAB_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'iproute2', 'procps', 'ca-certificates']
/** What `osctl bootstrap` would install; pre-installed only with --with-packages to make tests faster. */
export const LAB_HOST_PACKAGES = ['runc', 'skopeo', 'umoci', 'docker.io', 'curl']

// Host keys must differ per host, so none ship in the image: sshd makes them on its first start.
// `ExecStartPre=` resets Debian's list so keygen runs before the config test that needs the keys.
const SSH_KEYGEN_DROPIN = `[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
`

// Units that need real hardware, a console or a writable kernel: they only fail (or hang) in a container.
const MASKED_UNITS = [
  'getty.target',
  'console-getty.service',
  'systemd-udevd.service',
  'systemd-udevd-control.socket',
  'systemd-udevd-kernel.socket',
  'systemd-udev-trigger.service',
  'systemd-udev-settle.service',
  'systemd-modules-load.service',
  'systemd-remount-fs.service',
  'sys-kernel-config.mount',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-fs-fuse-connections.mount',
  'systemd-firstboot.service',
  'systemd-sysctl.service',
]

/** The lab's provider network: every lab host has it, the network host's router gateways live on it. */
export const LAB_PROVIDER = {bridge: 'br-ex', cidr: '10.99.0.0/24', gateway: '10.99.0.1', range: '10.99.0.100-10.99.0.199'}

// What a cloud host's own set-up would give it: /run/netns as a shared mount (systemd makes every
// mount shared on a real host; a container's are private, and Docker refuses the neutron agents'
// /run/netns:/run/netns:shared bind on a private one), the tun device (every boot: /dev is a
// tmpfs in a container) and a provider bridge with an address range of its own, for floating IPs.
const PROVIDER_UNIT = `[Unit]
Description=osctl lab: /dev/net/tun and the provider bridge ${LAB_PROVIDER.bridge}
DefaultDependencies=no
Before=network.target docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mkdir -p /run/netns && { mountpoint -q /run/netns || mount --bind /run/netns /run/netns; } && mount --make-shared /run/netns'
ExecStart=/bin/sh -c 'mkdir -p /dev/net && { [ -e /dev/net/tun ] || mknod -m 0666 /dev/net/tun c 10 200; }'
ExecStart=/bin/sh -c 'ip link show ${LAB_PROVIDER.bridge} >/dev/null 2>&1 || ip link add ${LAB_PROVIDER.bridge} type bridge; ip addr replace ${LAB_PROVIDER.gateway}/${LAB_PROVIDER.cidr.split('/')[1]} dev ${LAB_PROVIDER.bridge} && ip link set ${LAB_PROVIDER.bridge} up'

[Install]
WantedBy=multi-user.target
`

function baseDockerfile(from: string): string {
  return `FROM ${from}
COPY osctl-keygen.conf /etc/systemd/system/ssh.service.d/osctl-keygen.conf
COPY lab-provider.service /etc/systemd/system/lab-provider.service
# ping: what an operator checks a floating IP with from the network host.
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iputils-ping \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
RUN rm -f /etc/ssh/ssh_host_* \\
 && : > /etc/machine-id \\
 && systemctl mask ${MASKED_UNITS.join(' ')} \\
 && systemctl enable ssh.service lab-provider.service \\
 && install -d -m 0700 /root/.ssh
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
`
}

// Installed the way a host would get them, but Docker must not start at boot: `osctl bootstrap`
// starts it only after the system containers are up (docker.service pulls containerd in then).
function packagesDockerfile(from: string): string {
  return `FROM ${from}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${LAB_HOST_PACKAGES.join(' ')} \\
 && systemctl disable docker.service docker.socket containerd.service \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
`
}

export interface LabImageOptions {
  mirror: string
  withPackages?: boolean
}

export function labRootfsSpec(mirror: string): RootfsSpec {
  return {suite: 'bookworm', mirror, include: LAB_PACKAGES}
}

/** Content hash of everything that goes into an image: same inputs, same tag, no rebuild. */
export function contentHash(parts: string[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  return h.digest('hex').slice(0, 12)
}

/** The image lab hosts boot from; built once per content hash and reused by every lab. */
export async function ensureLabImage(docker: DockerClient, opts: LabImageOptions, reporter: Reporter = silentReporter): Promise<string> {
  const rootfs = await ensureRootfsImage(docker, labRootfsSpec(opts.mirror), reporter)
  const base = await buildCached(docker, 'osctl-lab/debian-bookworm', baseDockerfile(rootfs), {'osctl-keygen.conf': SSH_KEYGEN_DROPIN, 'lab-provider.service': PROVIDER_UNIT}, reporter)
  if (!opts.withPackages) return base
  return buildCached(docker, 'osctl-lab/debian-bookworm-packages', packagesDockerfile(base), {}, reporter)
}

async function buildCached(docker: DockerClient, repo: string, dockerfile: string, files: Record<string, string>, reporter: Reporter): Promise<string> {
  const hash = contentHash([dockerfile, ...Object.entries(files).flat()])
  const ref = `${repo}:${hash}`
  if (await docker.inspectImage(ref)) {
    reporter.emit('lab.image.cached', {ref})
    return ref
  }
  // Two `lab up` at once (two labs, two test files) build it once: the second waits and finds it.
  return withBuildLock(`lab-${hash}`, async () => {
    if (await docker.inspectImage(ref)) {
      reporter.emit('lab.image.cached', {ref})
      return ref
    }
    return buildLabImage(docker, ref, hash, dockerfile, files, reporter)
  })
}

async function buildLabImage(docker: DockerClient, ref: string, hash: string, dockerfile: string, files: Record<string, string>, reporter: Reporter): Promise<string> {
  reporter.emit('lab.image.build', {ref})
  const dir = await mkdtemp(join(tmpdir(), 'osctl-lab-image-'))
  const log: string[] = []
  try {
    await writeFile(join(dir, 'Dockerfile'), dockerfile)
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
    await docker.buildImage({
      contextDir: dir,
      tags: [ref],
      labels: {[LABEL_MANAGED]: 'true', [LABEL_LAB_IMAGE]: hash},
      // apt inside RUN reaches the mirror through the host's own network and resolver.
      networkMode: 'host',
      onLog: (line) => log.push(line),
    })
  } catch (err) {
    throw new OsctlError('BUILD_FAILED', `building lab image ${ref} failed: ${errorMessage(err)}`, {
      cause: err,
      details: log.slice(-20),
      hint: 'check that the apt mirror is reachable from this machine (--apt-mirror)',
    })
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
  reporter.emit('lab.image.done', {ref})
  return ref
}
