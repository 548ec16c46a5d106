/**
 * HTTP GET from the host itself with bash's /dev/tcp: a freshly provisioned host has bash but
 * maybe not curl, and the check must not depend on what the system container ships.
 */
export function httpProbeScript(url: string): string {
  const u = new URL(url)
  const port = u.port || '80'
  const path = `${u.pathname}${u.search}`
  return (
    `exec 3<>/dev/tcp/${u.hostname}/${port} || exit 7; ` +
    `printf 'GET ${path} HTTP/1.0\\r\\nHost: ${u.host}\\r\\n\\r\\n' >&3; ` +
    `timeout 3 cat <&3`
  )
}
