import {execa} from 'execa'

/**
 * Debian's openstack client and its placement plugin (`openstack resource provider list`), on the
 * machine running the tests: installed once if missing, whichever lab file needs them first. Asked
 * of the system's python (the client's), not whatever `python3` comes first on PATH (pyenv).
 */
export async function ensureOpenstackClient(): Promise<void> {
  if ((await execa('sh', ['-c', 'command -v openstack && /usr/bin/python3 -c "import osc_placement"'], {reject: false})).exitCode === 0) return
  await execa('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-openstackclient python3-osc-placement'], {timeout: 600_000})
}
