import type {ContainerClient} from '../docker/types.js'
import {OsctlError} from '../errors.js'
import {CONTAINER_CACERT} from '../site/endpoints.js'

/** Exit status of NOVA_SERVICE_SCRIPT's disable when the host still hosts servers (their names on stdout). */
const HOSTS_SERVERS_EXIT = 3

/**
 * What `openstack compute service set --disable` and `openstack compute service delete` do, run
 * with python in the nova-api container of a control host (keystoneauth is there; no client on
 * the machine running osctl, no API port opened to it). The admin password arrives on stdin,
 * never in argv. Microversion 2.53: services by UUID; deleting one also deletes its compute node
 * and resource provider. Prints one JSON line: the services it acted on.
 */
export const NOVA_SERVICE_SCRIPT = [
  'import json, sys',
  'action, auth_url, host = sys.argv[1:4]',
  ...adminSession(),
  "kw = dict(endpoint_filter={'service_type': 'compute', 'interface': 'internal'}, headers={'OpenStack-API-Version': 'compute 2.53'})",
  'if action == \'disable\':',
  // Before anything changes: nova refuses (409) to delete a compute service that still hosts
  // servers, which would leave the host drained but still in nova and in the inventory.
  "    servers = call('GET', '/servers?all_tenants=1&host=' + host).json()['servers']",
  '    if servers:',
  "        print(json.dumps({'servers': sorted(v['name'] for v in servers)}))",
  `        sys.exit(${HOSTS_SERVERS_EXIT})`,
  "found = call('GET', '/os-services?binary=nova-compute&host=' + host).json()['services']",
  'for svc in found:',
  "    if action == 'disable':",
  "        call('PUT', '/os-services/' + svc['id'], json={'status': 'disabled', 'disabled_reason': 'osctl host remove'})",
  '    else:',
  "        call('DELETE', '/os-services/' + svc['id'])",
  "print(json.dumps([svc['id'] for svc in found]))",
].join('\n')

/**
 * Disables (before its nova-compute stops: the scheduler places nothing more there) or deletes
 * (after: it cannot register again) the nova-compute service of HOST. Returns the service ids.
 * Disable refuses (USAGE, exit 2, before it changes anything) while HOST still hosts servers.
 */
export function novaComputeService(docker: ContainerClient, via: string, action: 'disable' | 'delete', opts: {authUrl: string; password: string; host: string}): Promise<string[]> {
  return runAdminScript(docker, 'nova-api', [NOVA_SERVICE_SCRIPT, action, opts.authUrl, opts.host], opts.password, {
    failure: `${via}: cannot ${action} the nova-compute service of ${opts.host}`,
    hint: `is nova-api running on ${via}? (\`osctl service status nova-api\`)`,
    busy: (servers) =>
      new OsctlError('USAGE', `${opts.host} still hosts ${servers.length} server(s): ${servers.join(', ')}`, {
        location: '--drain',
        hint: `migrate them to another compute host (\`openstack server migrate --live-migration NAME\`) or delete them, then run host remove again; nothing was changed`,
      }),
  })
}

/**
 * What `openstack network agent list --host HOST` then `network agent delete` do, run with python
 * in the neutron-server container of a control host (as NOVA_SERVICE_SCRIPT: keystoneauth there,
 * the admin password on stdin). After the host's agents stopped: a dead agent would otherwise stay
 * listed (and be scheduled networks or routers) for ever. Prints one JSON line: the agents deleted.
 */
export const NEUTRON_AGENT_SCRIPT = [
  'import json, sys',
  'auth_url, host = sys.argv[1:3]',
  ...adminSession(),
  "kw = dict(endpoint_filter={'service_type': 'network', 'interface': 'internal'})",
  "found = call('GET', '/v2.0/agents?host=' + host).json()['agents']",
  'for agent in found:',
  "    call('DELETE', '/v2.0/agents/' + agent['id'])",
  "print(json.dumps([agent['id'] for agent in found]))",
].join('\n')

/** Deletes the (stopped) neutron agents of HOST; returns their ids. */
export function deleteNeutronAgents(docker: ContainerClient, via: string, opts: {authUrl: string; password: string; host: string}): Promise<string[]> {
  return runAdminScript(docker, 'neutron-server', [NEUTRON_AGENT_SCRIPT, opts.authUrl, opts.host], opts.password, {
    failure: `${via}: cannot delete the neutron agents of ${opts.host}`,
    hint: `is neutron-server running on ${via}? (\`osctl service status neutron\`)`,
  })
}

/**
 * The python lines that open a keystone session as admin, the password read from stdin (never
 * argv), and define call(method, path, json=None) against the endpoint of `kw`: an HTTP error
 * exits 1 with the method, path, status and the API's own message on stderr (keystoneauth's
 * exception for nova's error bodies only says "Unrecognized schema in response body").
 */
function adminSession(): string[] {
  return [
    'import os',
    'from keystoneauth1 import session',
    'from keystoneauth1.identity import v3',
    "auth = v3.Password(auth_url=auth_url, username='admin', password=sys.stdin.read(), project_name='admin', user_domain_id='default', project_domain_id='default')",
    // The site CA where osctl puts it in the container when the APIs speak TLS (catalog/ca-file.ts).
    `s = session.Session(auth=auth, verify=os.path.exists('${CONTAINER_CACERT}') and '${CONTAINER_CACERT}' or True)`,
    'def call(method, path, json=None):',
    '    r = s.request(path, method, json=json, raise_exc=False, **kw)',
    '    if r.status_code < 400:',
    '        return r',
    '    try:',
    '        body = r.json()',
    "        msg = next(iter(body.values())).get('message') or r.text",
    '    except Exception:',
    '        msg = r.text',
    "    sys.stderr.write('%s %s: HTTP %d: %s\\n' % (method, path, r.status_code, str(msg).strip()[:400]))",
    '    sys.exit(1)',
  ]
}

/** Runs one of these scripts with `python3 -c` in CONTAINER, the password on stdin; returns the ids its last line lists. */
async function runAdminScript(docker: ContainerClient, container: string, args: string[], password: string, on: {failure: string; hint: string; busy?: (servers: string[]) => OsctlError}): Promise<string[]> {
  const r = await docker.exec(container, ['python3', '-c', ...args], {input: password, timeoutMs: 120_000})
  const last = (text: string) => text.trim().split('\n').at(-1)
  if (r.exitCode === HOSTS_SERVERS_EXIT && on.busy) throw on.busy((JSON.parse(last(r.stdout) || '{}') as {servers?: string[]}).servers ?? [])
  if (r.exitCode !== 0) throw new OsctlError('COMMAND_FAILED', `${on.failure}: ${last(r.stderr) ?? `exit ${r.exitCode}`}`, {hint: on.hint})
  try {
    return JSON.parse(last(r.stdout) || '[]') as string[]
  } catch {
    return []
  }
}
