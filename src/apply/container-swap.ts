import {randomBytes} from 'node:crypto'
import {posix} from 'node:path'

import type {ContainerClient} from '../docker/docker-client.js'
import {OsctlError, errorMessage} from '../errors.js'
import {Host} from '../hosts/host.js'
import {ContainerSpec, LABELS, createOptions, specHash} from '../catalog/container-spec.js'
import {JOURNAL_ROOT} from '../revisions/journal.js'
import {serviceUnitName, serviceUnitPath} from './service-unit.js'

/**
 * Replacing a service container with as short an outage as possible, and with nothing lost if
 * osctl dies in the middle:
 *
 * 1. `<name>.next` is created (or the kept `<name>.prev` is reused when it is exactly the wanted
 *    spec, which makes an undo a pair of renames) while the current container still serves.
 * 2. The swap itself runs on the host as one transient systemd unit (`systemd-run --wait`): stop
 *    the unit, rename `<name>` to `<name>.prev`, `<name>.next` to `<name>`, install the unit
 *    file, start. It completes even if the osctl process or its SSH connection dies, so the
 *    service is never left stopped for longer than the swap.
 * 3. The caller health-gates the new container; `dropPrevious` then removes `<name>.prev`. Until
 *    then the previous container is kept, stopped, for an instant swap back.
 *
 * Overlap: when the running container's image and the new one both carry io.osctl.swap=overlap
 * (uwsgi APIs binding with reuse-port), `<name>.next` is started beside the running one and the swap
 * waits until its log shows io.osctl.ready-log; stopping the old one then costs at most the requests
 * it held at that instant (until then it takes every new connection: templates/_shared/
 * uwsgi_first_listener.py), and `systemctl start` attaches to the already running container. A next
 * container that never gets ready is removed and the running one was never touched.
 */
export const nextName = (name: string) => `${name}.next`
export const prevName = (name: string) => `${name}.prev`
/** `<name>.next` / `<name>.prev`: not a service container of their own (listings skip them). */
export const isSwapSpare = (name: string) => /\.(next|prev)$/.test(name)

/**
 * CPU weight (cgroup cpu.shares; Docker's default is 1024) of a next container while it loads
 * beside the serving ones: an API's start is seconds of Python imports, which on a busy host would
 * otherwise slow every answer the serving containers give meanwhile. The swap gives it the default
 * weight back (SWAP_SCRIPT). Best effort: an engine that cannot set it loads at the default.
 */
export const WARM_UP_CPU_SHARES = 128
/** Docker's default CPU weight: what a container gets back once it serves (SWAP_SCRIPT, the balancer's warm-up). */
export const DEFAULT_CPU_SHARES = 1024

/**
 * The host-side swap; positional args: container, unit, staged unit file, unit path, and `overlap`
 * when the next container already serves beside the running one.
 */
export const SWAP_SCRIPT = [
  'set -eu',
  'name=$1 unit=$2 staged=$3 dest=$4 overlap=${5:-}',
  // Nothing is stopped unless there is something to swap in.
  'docker container inspect "$name.next" >/dev/null 2>&1 || { echo "no container $name.next to swap in" >&2; exit 3; }',
  // The unit file and its enablement first: systemd takes a changed file while the old container
  // still runs (ExecStart/ExecStop name the container, not the revision), so no reload in the gap.
  'if cmp -s "$staged" "$dest"; then rm -f "$staged"; else mv -f "$staged" "$dest"; systemctl daemon-reload; fi',
  'systemctl enable --quiet --no-reload "$unit" 2>/dev/null || { systemctl daemon-reload; systemctl enable --quiet "$unit"; }',
  'docker rm -f "$name.prev" >/dev/null 2>&1 || true',
  // The gap: from here to `start`. With overlap there is none (the next one already serves on the
  // same port): the old uwsgi is killed rather than stopped. Its die-on-term ends its workers at
  // once either way, but its master only reaps them at its next 1 s tick; the unit's main process
  // then ends and `systemctl stop` cancels the restart systemd scheduled (RestartSec=5).
  'if [ "$overlap" = overlap ]; then docker kill "$name" >/dev/null 2>&1 || true; fi',
  'systemctl stop "$unit" 2>/dev/null || true',
  'if docker container inspect "$name" >/dev/null 2>&1; then docker rename "$name" "$name.prev"; fi',
  'docker rename "$name.next" "$name"',
  // It loaded at a low CPU weight beside the serving one (WARM_UP_CPU_SHARES); now it is the one serving.
  `if [ "$overlap" = overlap ]; then docker update --cpu-shares ${DEFAULT_CPU_SHARES} "$name" >/dev/null 2>&1 || true; fi`,
  'systemctl reset-failed "$unit" 2>/dev/null || true',
  'systemctl start "$unit"',
].join('\n')

/**
 * Where swapIn puts SWAP_SCRIPT on the host: systemd-run runs `/bin/sh <this> args…`. Not the
 * script inline: systemd keeps a transient unit's ExecStart in /run/systemd/transient/ and reads it
 * back at every daemon-reload, which a script does not survive (a newline cuts it; `;` is an
 * ExecStart separator, escaped and then mangled): with swaps of several containers on one host at
 * once, one's reload broke the next one's script before it started (ha.test: exit 2, "Syntax
 * error: end of file unexpected").
 */
export const SWAP_SCRIPT_PATH = '/var/lib/osctl/libexec/osctl-swap'

/** Hosts whose JOURNAL_ROOT (root-only) this process made sure of: one `install -d` per host, not one per swap. */
const journalRootMade = new WeakSet<Host>()

/** Step 1: `<name>.next` holds the wanted container, created from the spec or the kept previous one. */
export async function prepareNext(docker: ContainerClient, spec: ContainerSpec, revision: number, opts: {byId?: boolean; beforeStandby?: () => Promise<unknown>} = {}): Promise<'created' | 'reused'> {
  const hash = specHash(spec)
  await docker.removeContainer(nextName(spec.name))
  let prev = await docker.inspectContainer(prevName(spec.name))
  if (prev && prev.labels[LABELS.configHash] === hash && prev.imageId === spec.imageId) {
    // Possibly a rollback standby (keepStandby): its timer (and an expiry already running) stopped
    // first, then asked again, so the expiry cannot remove it under the rename.
    if (opts.beforeStandby) {
      await opts.beforeStandby()
      const again = await docker.inspectContainer(prevName(spec.name))
      prev = again?.id === prev.id ? again : undefined
    }
    if (prev) {
      await docker.renameContainer(prevName(spec.name), nextName(spec.name))
      return 'reused'
    }
  }
  // Rollback creates by image id: the tag may point at another image by now, the revision names one.
  await docker.createContainer({...createOptions(spec, revision), name: nextName(spec.name), ...(opts.byId ? {image: spec.imageId} : {})})
  return 'created'
}

/**
 * Step 2, on the host: the old container stops, the new one starts under the same name and unit.
 * Returns when (performance.now()) the swap itself began, after the unit file was staged.
 */
export async function swapIn(host: Host, name: string, unitText: string, opts: {overlap?: boolean} = {}): Promise<number> {
  const unit = serviceUnitName(name)
  const staged = posix.join(JOURNAL_ROOT, `${unit}.staged`)
  if (!journalRootMade.has(host)) {
    await host.run(['install', '-d', '-m', '0700', JOURNAL_ROOT])
    journalRootMade.add(host)
  }
  await host.writeFiles([
    {path: staged, data: unitText, mode: 0o644},
    {path: SWAP_SCRIPT_PATH, data: `${SWAP_SCRIPT}\n`, mode: 0o700},
  ])
  const swapUnit = `osctl-swap-${name}-${randomBytes(3).toString('hex')}`
  const began = performance.now()
  const r = await host
    .exec(['systemd-run', '--quiet', '--wait', '--collect', `--unit=${swapUnit}`, '--property=Type=oneshot', '--', '/bin/sh', SWAP_SCRIPT_PATH, name, unit, staged, serviceUnitPath(name), ...(opts.overlap ? ['overlap'] : [])], {
      timeoutMs: 150_000,
    })
    .catch((err: unknown) => afterLostConnection(host, name, swapUnit, err))
  if (r.exitCode !== 0) {
    const log = await host.exec(['journalctl', '-u', swapUnit, '-o', 'cat', '-n', '15', '--no-pager'])
    throw new OsctlError('COMMAND_FAILED', `${host.name}: swapping in the new ${name} container failed (exit ${r.exitCode})`, {
      details: log.stdout.trim().split('\n').filter(Boolean),
      hint: `\`journalctl -u ${swapUnit}\` and \`docker ps -a --filter name=${name}\` on ${host.name}`,
    })
  }
  return began
}

/**
 * The connection that waited for the swap was lost (the SSH session cut, not the host): the swap
 * unit goes on without it. Nothing else may touch the containers until it ended (a restore racing
 * it would remove `<name>.next` under it), so wait for it over a new connection, then judge by what
 * it left: `<name>.next` renamed into place is a done swap. A host that stays unreachable rethrows.
 */
async function afterLostConnection(host: Host, name: string, swapUnit: string, err: unknown): Promise<{exitCode: number}> {
  if (!(err instanceof OsctlError) || err.code !== 'HOST_UNREACHABLE') throw err
  const deadline = Date.now() + 150_000
  for (;;) {
    const state = await host.exec(['systemctl', 'is-active', swapUnit]).catch(() => undefined)
    if (!state) throw err
    if (!/^(active|activating|deactivating|reloading)$/.test(state.stdout.trim())) break
    if (Date.now() > deadline) throw err
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  const left = await host.exec(['sh', '-c', 'docker container inspect "$1.next" >/dev/null 2>&1 && echo next; docker container inspect -f "{{.State.Running}}" "$1" 2>/dev/null || true', 'osctl', name])
  return {exitCode: /next/.test(left.stdout) || left.stdout.trim() !== 'true' ? 1 : 0}
}

/** The ready-log marker when the next container may run beside the running one, else undefined. */
export async function overlapMarker(docker: ContainerClient, name: string, spec: ContainerSpec): Promise<string | undefined> {
  const running = await docker.inspectContainer(name)
  if (!running || running.state !== 'running') return undefined
  const [was, next] = await Promise.all([docker.inspectImage(running.imageId), docker.inspectImage(spec.imageId)])
  const marker = next?.labels[LABELS.readyLog]
  return was?.labels[LABELS.swap] === 'overlap' && next?.labels[LABELS.swap] === 'overlap' && marker ? marker : undefined
}

/** Overlap, step 1b: `<name>.next` runs beside `<name>` until its log says it is ready. */
export async function warmUp(host: Host, docker: ContainerClient, name: string, marker: string, timeoutSeconds: number): Promise<void> {
  const next = nextName(name)
  // A container that ran before (the kept previous one, reused for an undo) still has that run's
  // log, ready line included: only what this run writes counts, i.e. lines after its last end.
  // A standby already running (keepStandby): the lines since its current run began.
  const before = await docker.inspectContainer(next)
  const since = before?.state === 'running' ? before.startedAt : before?.finishedAt
  await host.exec(['docker', 'update', '--cpu-shares', String(WARM_UP_CPU_SHARES), next])
  await docker.startContainer(next)
  const deadline = Date.now() + timeoutSeconds * 1000
  for (;;) {
    const [info, logs] = await Promise.all([docker.inspectContainer(next), docker.containerLogs(next, 300, since).catch(() => '')])
    if (logs.includes(marker)) return
    if (info?.state !== 'running' || Date.now() > deadline) {
      await docker.removeContainer(next)
      throw new OsctlError('COMMAND_FAILED', `${host.name}: the new ${name} container ${info?.state === 'running' ? `was not ready within ${timeoutSeconds}s` : `exited (${info?.state ?? 'gone'})`} while the running one kept serving`, {
        details: logs.trim().split('\n').slice(-20),
        hint: `Nothing was switched over on ${host.name}; the log lines above are the new container's.`,
      })
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/**
 * Steps 1 and 2 as deploy and rollback both run them: the next container is prepared (created, or
 * the kept previous one reused), warmed up beside the running one when both images allow it, then
 * swapped in under the unit. The caller health-gates it and calls dropPrevious. Returns when
 * (performance.now()) the new container began to start: its warm-up, else the swap.
 */
export async function replaceContainer(host: Host, docker: ContainerClient, spec: ContainerSpec, revision: number, unitText: string, opts: {byId?: boolean} = {}): Promise<number> {
  await prepareNext(docker, spec, revision, {...opts, beforeStandby: () => stopStandbyTimer(host, spec.name)})
  const marker = await overlapMarker(docker, spec.name, spec)
  const warm = marker ? performance.now() : undefined
  if (marker) await warmUp(host, docker, spec.name, marker, spec.health.timeoutSeconds)
  const swapped = await swapIn(host, spec.name, unitText, {overlap: marker !== undefined})
  return warm ?? swapped
}

/**
 * Where keepStandby puts STANDBY_EXPIRE_SCRIPT; the timer runs `/bin/sh <this> <id> <name>`. A file,
 * as SWAP_SCRIPT_PATH, because a transient unit's inline command does not survive daemon-reload.
 */
export const STANDBY_EXPIRE_PATH = '/var/lib/osctl/libexec/osctl-standby-expire'

/**
 * The standby's end: removed only while it still is that standby, i.e. the same container (by id)
 * still named `<name>.prev`. A rollback renamed it into service; a later swap replaced it.
 */
export const STANDBY_EXPIRE_SCRIPT = [
  'set -u',
  'id=$1 name=$2',
  // Whoever takes the standby (a rollback, the stop before a database restore) stops this timer
  // first (stopStandbyTimer): a stopped one left by a crash still goes.
  '[ "$(docker container inspect -f "{{.Name}}" "$id" 2>/dev/null)" = "/$name.prev" ] || exit 0',
  'docker rm -f "$id" >/dev/null',
].join('\n')

/** The transient unit (a `.timer` and the `.service` it runs) that ends `<name>`'s standby (STANDBY_SCRIPT). */
export const standbyUnit = (name: string) => `osctl-standby-${name}`

/**
 * Before anything takes `<name>.prev` (a possible standby): its timer stopped, and an expiry that
 * already fired waited for (`systemctl stop` of its service returns once it ended). Never fails.
 */
export async function stopStandbyTimer(host: Host, name: string): Promise<void> {
  await host.exec(['systemctl', 'stop', `${standbyUnit(name)}.timer`, `${standbyUnit(name)}.service`]).catch(() => undefined)
}

/**
 * Positional args: container, seconds, expire script. Replaces an earlier standby's timer, gives
 * `<name>.prev` the warm-up CPU weight and sets the transient timer that ends it; then the engine
 * starts it (keepStandby).
 */
export const STANDBY_SCRIPT = [
  'set -eu',
  'name=$1 seconds=$2 expire=$3 unit=$4',
  // The earlier standby's timer, and an expiry it already started (stopStandbyTimer's same stop).
  'systemctl stop "$unit.timer" "$unit.service" 2>/dev/null || true',
  'id=$(docker container inspect -f "{{.Id}}" "$name.prev")',
  `docker update --cpu-shares ${WARM_UP_CPU_SHARES} "$name.prev" >/dev/null || true`,
  'systemd-run --quiet --collect --unit="$unit" --on-active="${seconds}s" --timer-property=AccuracySec=1s /bin/sh "$expire" "$id" "$name"',
].join('\n')

/**
 * Instead of dropPrevious after an upgrade's overlap swap (`service upgrade`, osctl.yml
 * rollback_standby seconds): the previous container, killed by the swap, starts again beside the
 * new one and loads its app, at the warm-up CPU weight. It takes no connection (its socket joined
 * the port's SO_REUSEPORT group last; uwsgi_first_listener sends all to the oldest, the serving one),
 * and a `service rollback` within the window reuses it running (prepareNext, then warmUp finds it
 * ready): the swap back costs no app load. The unit's ExecStopPost removes a running standby
 * whenever the serving container stops (stop, restart, crash), so it never takes over on its own;
 * the timer removes it at the end of the window. Only when nothing but the image changed (its
 * config dir then holds exactly its own files) and both images can overlap; else dropPrevious.
 * Returns whether it was kept, or why keeping it failed.
 */
export async function keepStandby(host: Host, docker: ContainerClient, name: string, seconds: number): Promise<boolean | string> {
  const [prev, running] = await Promise.all([docker.inspectContainer(prevName(name)), docker.inspectContainer(name)])
  if (!prev || prev.state === 'running' || running?.state !== 'running') return false
  const [was, now] = await Promise.all([docker.inspectImage(prev.imageId), docker.inspectImage(running.imageId)])
  if (was?.labels[LABELS.swap] !== 'overlap' || now?.labels[LABELS.swap] !== 'overlap') return false
  // Within one OpenStack release only: an app of another release would, when it loads, write its
  // own service version where the new one wrote its (nova's `services` rows; nova refuses an older
  // one on a single host: ServiceTooOld, and the standby then answers 500 to everything).
  const release = was.labels[LABELS.openstackRelease]
  if (!release || release !== now.labels[LABELS.openstackRelease]) return false
  try {
    await host.writeFiles([{path: STANDBY_EXPIRE_PATH, data: `${STANDBY_EXPIRE_SCRIPT}\n`, mode: 0o700}])
    await host.run(['sh', '-c', STANDBY_SCRIPT, 'osctl-standby', name, String(seconds), STANDBY_EXPIRE_PATH, standbyUnit(name)])
    await docker.startContainer(prevName(name))
    return true
  } catch (err) {
    // The upgrade itself is done and healthy: without its standby, a rollback only loads the app
    // again. The caller removes the previous container (dropPrevious) and says why.
    return errorMessage(err)
  }
}


/** Step 3: the new container is healthy; the kept previous one goes. */
export async function dropPrevious(docker: ContainerClient, name: string): Promise<void> {
  await docker.removeContainer(prevName(name))
}
