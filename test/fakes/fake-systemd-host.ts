import {FakeHost} from './fake-host.js'

/**
 * A FakeHost that models just enough of a host for SystemManager: the `current` symlink, skopeo
 * (images with config digests), umoci (a config.json per unpacked slot; ls, rm and gc of the OCI
 * store's tags), systemd units whose health depends on the image the slot holds.
 */
export class FakeSystemdHost extends FakeHost {
  links = new Map<string, string>()
  /** Registry: image ref → config digest. */
  registry = new Map<string, string>()
  /** Images (by digest) whose process never becomes healthy. */
  broken = new Set<string>()
  /** OCI store tag → digest. */
  store = new Map<string, string>()
  unitActive = new Map<string, string>()
  restarts: string[] = []
  /** OCI store tags unpacked into a slot, in order. */
  unpacked: string[] = []
  gcRuns = 0
  /** Health probes that fail before the next one passes (a container still settling). */
  settling = 0

  constructor(name = 'h1') {
    super(name, '192.0.2.10')
    this.on(/^readlink /, (c) => {
      const target = this.links.get(c.argv![1])
      return target ? `${target}\n` : {exitCode: 1}
    })
      .on(/^sh -c 'ln -sfn slot-/, (c) => {
        const m = /ln -sfn (slot-\d) "([^"]+)\/current\.new"/.exec(c.argv![2])!
        this.links.set(`${m[2]}/current`, m[1])
      })
      .on(/^skopeo inspect /, (c) => {
        const ref = c.argv!.at(-1)!.replace('docker://', '')
        const digest = this.registry.get(ref)
        return digest ? JSON.stringify({config: {digest}}) : {exitCode: 1, stderr: 'manifest unknown'}
      })
      .on(/^skopeo copy /, (c) => {
        const src = c.argv!.at(-2)!.replace('docker://', '')
        if (!this.registry.has(src)) return {exitCode: 1, stderr: `reading manifest ${src}: manifest unknown`}
        this.store.set(c.argv!.at(-1)!.replace(/^oci:\/var\/lib\/osctl\/oci:/, ''), this.registry.get(src)!)
      })
      .on(/^sh -c 'rm -rf "\$1" && mkdir -p "\$2" && umoci raw unpack/, (c) => {
        const [dir, bundle, image] = c.argv!.slice(4)
        const tag = image.split(':').at(-1)!
        for (const k of [...this.files.keys()]) if (k.startsWith(`${dir}/`)) this.files.delete(k)
        if (!this.store.has(tag)) return {exitCode: 1, stderr: `umoci: reference ${tag} not found in index`}
        this.unpacked.push(tag)
        this.setFile(`${bundle}/config.json`, JSON.stringify({ociVersion: '1.0.0', process: {args: ['x'], env: []}, root: {path: 'rootfs'}, digest: this.store.get(tag)}))
      })
      .on(/^umoci ls --layout /, () => [...this.store.keys()].map((t) => `${t}\n`).join(''))
      .on(/^umoci rm --image /, (c) => {
        const tag = c.argv![3].split(':').at(-1)!
        if (!this.store.delete(tag)) return {exitCode: 1, stderr: `umoci: tag ${tag} not found`}
      })
      .on(/^umoci gc --layout /, () => {
        this.gcRuns++
      })
      // RevisionStore.records(): the revisions/<n>/ dirs holding an info.json.
      .on(/^sh -c 'cd "\$1" 2>\/dev\/null && for d in/, (c) => {
        const re = new RegExp(`^${c.argv![4]}/(\\d+)/info\\.json$`)
        return [...this.files.keys()].map((k) => re.exec(k)?.[1]).filter(Boolean).map((n) => `${n}\n`).join('')
      })
      .on(/^(rm|mkdir) /, () => '')
      .on(/^systemctl (daemon-reload|enable|reset-failed)/, () => '')
      // keepalived's companion unit (manager.ts ensureCompanions).
      .on(/^systemctl enable --now --no-block /, (c) => {
        for (const unit of c.argv!.slice(4)) this.unitActive.set(unit, 'active')
      })
      .on(/^systemctl restart /, (c) => {
        this.unitActive.set(c.argv![2], 'active')
        this.restarts.push(c.argv![2])
      })
      .on(/^systemctl show /, (c) => `ActiveState=${this.unitActive.get(c.argv!.at(-1)!) ?? 'inactive'}\nNRestarts=0\n`)
      .on(/^journalctl /, () => 'fake journal line\n')
      .on(/^timeout 5 bash -c /, () => (this.healthy() ? 'HTTP/1.0 200 OK\r\n\r\n{"health":"true"}' : {exitCode: 7}))
      // Script health checks (keepalived's VRRP state): the same good/bad rule.
      .on(/^timeout 5 sh -c /, () => (this.healthy() ? 'VRRP BACKUP\n' : {exitCode: 1, stdout: 'VRRP FAULT\n'}))
  }

  /** Healthy when the slot `current` points to holds a good image. */
  healthy(): boolean {
    if (this.settling > 0) {
      this.settling--
      return false
    }
    for (const [link, slot] of this.links) {
      const cfg = this.text(`${link.replace(/current$/, slot)}/bundle/config.json`)
      if (cfg && this.broken.has(JSON.parse(cfg).digest)) return false
    }
    return true
  }
}
