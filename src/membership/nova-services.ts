import type {ContainerClient} from '../docker/types.js'
import {OsctlError} from '../errors.js'

/**
 * What `openstack compute service set --disable` and `openstack compute service delete` do, run
 * with python in the nova-api container of a control host (keystoneauth is there; no client on
 * the machine running osctl, no API port opened to it). The admin password arrives on stdin,
 * never in argv. Microversion 2.53: services by UUID; deleting one also deletes its compute node
 * and resource provider. Prints one JSON line: the services it acted on.
 */
export const NOVA_SERVICE_SCRIPT = [
  'import json, sys',
  'from keystoneauth1 import session',
  'from keystoneauth1.identity import v3',
  'action, auth_url, host = sys.argv[1:4]',
  "auth = v3.Password(auth_url=auth_url, username='admin', password=sys.stdin.read(), project_name='admin', user_domain_id='default', project_domain_id='default')",
  's = session.Session(auth=auth)',
  "kw = dict(endpoint_filter={'service_type': 'compute', 'interface': 'internal'}, headers={'OpenStack-API-Version': 'compute 2.53'})",
  "found = s.get('/os-services?binary=nova-compute&host=' + host, **kw).json()['services']",
  'for svc in found:',
  "    if action == 'disable':",
  "        s.put('/os-services/' + svc['id'], json={'status': 'disabled', 'disabled_reason': 'osctl host remove'}, **kw)",
  '    else:',
  "        s.delete('/os-services/' + svc['id'], **kw)",
  "print(json.dumps([svc['id'] for svc in found]))",
].join('\n')

/**
 * Disables (before its nova-compute stops: the scheduler places nothing more there) or deletes
 * (after: it cannot register again) the nova-compute service of HOST. Returns the service ids.
 */
export async function novaComputeService(docker: ContainerClient, via: string, action: 'disable' | 'delete', opts: {authUrl: string; password: string; host: string}): Promise<string[]> {
  const r = await docker.exec('nova-api', ['python3', '-c', NOVA_SERVICE_SCRIPT, action, opts.authUrl, opts.host], {input: opts.password, timeoutMs: 120_000})
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${via}: cannot ${action} the nova-compute service of ${opts.host}: ${r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`}`, {
      hint: `is nova-api running on ${via}? (\`osctl service status nova-api\`)`,
    })
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1) || '[]') as string[]
  } catch {
    return []
  }
}

/**
 * What `openstack network agent list --host HOST` then `network agent delete` do, run with python
 * in the neutron-server container of a control host (as NOVA_SERVICE_SCRIPT: keystoneauth there,
 * the admin password on stdin). After the host's agents stopped: a dead agent would otherwise stay
 * listed (and be scheduled networks or routers) for ever. Prints one JSON line: the agents deleted.
 */
export const NEUTRON_AGENT_SCRIPT = [
  'import json, sys',
  'from keystoneauth1 import session',
  'from keystoneauth1.identity import v3',
  'auth_url, host = sys.argv[1:3]',
  "auth = v3.Password(auth_url=auth_url, username='admin', password=sys.stdin.read(), project_name='admin', user_domain_id='default', project_domain_id='default')",
  's = session.Session(auth=auth)',
  "kw = dict(endpoint_filter={'service_type': 'network', 'interface': 'internal'})",
  "found = s.get('/v2.0/agents?host=' + host, **kw).json()['agents']",
  'for agent in found:',
  "    s.delete('/v2.0/agents/' + agent['id'], **kw)",
  "print(json.dumps([agent['id'] for agent in found]))",
].join('\n')

/** Deletes the (stopped) neutron agents of HOST; returns their ids. */
export async function deleteNeutronAgents(docker: ContainerClient, via: string, opts: {authUrl: string; password: string; host: string}): Promise<string[]> {
  const r = await docker.exec('neutron-server', ['python3', '-c', NEUTRON_AGENT_SCRIPT, opts.authUrl, opts.host], {input: opts.password, timeoutMs: 120_000})
  if (r.exitCode !== 0) {
    throw new OsctlError('COMMAND_FAILED', `${via}: cannot delete the neutron agents of ${opts.host}: ${r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`}`, {
      hint: `is neutron-server running on ${via}? (\`osctl service status neutron\`)`,
    })
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1) || '[]') as string[]
  } catch {
    return []
  }
}
