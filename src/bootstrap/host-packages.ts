import {Host} from '../hosts/host.js'

/** What a host needs before system containers and Docker can run on it. */
export const HOST_PACKAGES = ['runc', 'skopeo', 'umoci', 'docker.io', 'ca-certificates']

/**
 * Installs what is missing, with a policy-rc.d that forbids starting daemons: Docker must come up
 * only after the system containers, when osctl starts it.
 */
export async function ensureHostPackages(host: Host, packages = HOST_PACKAGES): Promise<string[]> {
  const q = await host.exec(['dpkg-query', '-W', '-f=${Package} ${Status}\\n', ...packages])
  const installed = new Set(
    q.stdout
      .split('\n')
      .filter((l) => l.endsWith('install ok installed'))
      .map((l) => l.split(' ')[0]),
  )
  const missing = packages.filter((p) => !installed.has(p))
  if (missing.length === 0) return []
  const script = [
    'set -e',
    'had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1',
    `[ "$had_policy" = 1 ] || { printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }`,
    `trap '[ "$had_policy" = 1 ] || rm -f /usr/sbin/policy-rc.d' EXIT`,
    'export DEBIAN_FRONTEND=noninteractive',
    'apt-get update -qq',
    `apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`,
  ].join('\n')
  await host.run(['sh', '-c', script], {timeoutMs: 900_000})
  return missing
}
