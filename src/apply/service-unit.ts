import nunjucks from 'nunjucks'
import {posix} from 'node:path'

import {UNITS_DIR} from '../paths.js'
import {VIP_HANDOVER_UNIT} from '../system/load-balancer.js'

const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(UNITS_DIR), {autoescape: false, throwOnUndefined: true, trimBlocks: true})

/** osctl-svc-<container>.service: one unit per service container, so `systemctl` shows each. */
export const serviceUnitName = (container: string) => `osctl-svc-${container}.service`
export const serviceUnitPath = (container: string) => posix.join('/etc/systemd/system', serviceUnitName(container))

/** A running `$0.prev` (a rollback standby, container-swap.ts keepStandby) removed; a stopped one left. */
const STANDBY_DROP_LINE = '[ "$(docker container inspect -f "{{.State.Running}}" "$0.prev" 2>/dev/null)" != true ] || docker rm -f "$0.prev" >/dev/null'

/**
 * The unit's main process ($0: the container). `docker start -a` starts the container (or attaches
 * to it when it already runs) and returns when it exits, with its exit code, or when the engine
 * goes away (a `systemctl restart docker`: live-restore keeps the container running). It then asks
 * the engine, once docker.service is active again (never through the socket: a stopped engine is
 * not started behind the operator's back), whether the container still runs: if so it attaches
 * again, so the unit stays active and the container keeps its id; if not, or the container is
 * gone, it exits with what `docker start -a` returned and systemd's Restart= takes over.
 * One line: systemd keeps an ExecStart argument on one line.
 */
export const ATTACH_SCRIPT = [
  'while :; do',
  'docker start -a "$0"; rc=$?; s=;',
  'until [ -n "$s" ]; do',
  'if systemctl is-active --quiet docker.service; then',
  's=$(docker inspect -f "{{.State.Running}}" "$0" 2>&1) || case "$s" in *"No such"*) exit $rc;; *) s=;; esac;',
  'fi;',
  '[ -n "$s" ] || sleep 1;',
  'done;',
  '[ "$s" = true ] || exit $rc;',
  // Attached again to a container that runs again (a `docker restart` by hand): a rollback standby
  // beside it now holds the port's first socket; it goes (STANDBY_DROP_SCRIPT, as at any stop).
  `${STANDBY_DROP_LINE};`,
  'done',
].join(' ')

/** ExecStartPost ($0: the container): until it runs, while the main process lives. */
export const STARTED_SCRIPT = 'until [ "$(docker inspect -f "{{.State.Running}}" "$0" 2>/dev/null)" = true ]; do kill -0 "$MAINPID" 2>/dev/null || exit 0; sleep 0.2; done'

/** ExecStop ($0: the container): only while the main process runs, i.e. the unit is being stopped. */
export const STOP_SCRIPT = '[ -z "$MAINPID" ] || exec docker stop -t 20 "$0"'
/**
 * ExecStopPost ($0: the container), after every stop of the unit, a crash included: a rollback
 * standby (container-swap.ts keepStandby: `<name>.prev` running beside it on the same port) goes
 * too, so the previous revision never takes the port over on its own. A stopped `.prev` (a swap's
 * kept one, until its health gate) is left.
 */
export const STANDBY_DROP_SCRIPT = STANDBY_DROP_LINE

/** A shell script as one single-quoted ExecStart argument: systemd expands $ and %, unescapes \\. */
export function systemdQuote(script: string): string {
  if (/['\\\n]/.test(script)) throw new Error(`a unit's inline script cannot hold quotes, backslashes or newlines: ${script}`)
  return script.replaceAll('$', '$$$$').replaceAll('%', '%%')
}

/**
 * The unit names no revision (`osctl service status` and the container's labels do): a new revision
 * of a service leaves the unit files of containers whose ordering did not change alone, so neither
 * their write nor a daemon-reload is part of an upgrade or a rollback.
 */
export function renderServiceUnit(input: {service: string; container: string; after?: string[]}): string {
  const after = (input.after ?? []).filter((c) => c !== input.container).map(serviceUnitName)
  return env.render('service-container.service.njk', {...input, after, handover: VIP_HANDOVER_UNIT, attach: systemdQuote(ATTACH_SCRIPT), started: systemdQuote(STARTED_SCRIPT), stop: systemdQuote(STOP_SCRIPT), dropStandby: systemdQuote(STANDBY_DROP_SCRIPT)})
}

/** The marker line of a unit osctl generated for a service container (before 2026-12 it also named a revision); undefined: not osctl's file. */
export function parseServiceUnitMarker(text: string): {service: string; container: string} | undefined {
  const m = /^# osctl-managed: service\/(\S+)\/(\S+?)(?: revision=\d+)?$/m.exec(text)
  return m ? {service: m[1], container: m[2]} : undefined
}

/** A unit file's [Install] section (what `systemctl enable` acts on), '' when it has none. */
export function installSection(text: string | undefined): string {
  return /^\[Install\]\n((?:(?!\[).*\n?)*)/m.exec(text ?? '')?.[1]?.trim() ?? ''
}
