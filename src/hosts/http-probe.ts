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

/**
 * The same over TLS with the openssl CLI (a dependency of ca-certificates, a host package): the
 * server's certificate must verify against `caPem` (passed inline: bash process substitution, so
 * the check needs no file on the host) and name the URL's host, or nothing is printed.
 */
export function httpsProbeScript(url: string, caPem: string): string {
  if (!/^[A-Za-z0-9+/=\s-]+$/.test(caPem)) throw new Error('httpsProbeScript: the CA must be PEM text')
  const u = new URL(url)
  const name = u.hostname.replace(/^\[|\]$/g, '')
  const verify = /^[\d.]+$|:/.test(name) ? `-verify_ip ${name}` : `-verify_hostname ${name}`
  const connect = u.port ? u.host : `${u.host}:443`
  return (
    `printf 'GET ${u.pathname}${u.search} HTTP/1.0\\r\\nHost: ${u.host}\\r\\n\\r\\n' | ` +
    `timeout 3 openssl s_client -quiet -verify_return_error -CAfile <(printf '%s' '${caPem.trim()}\n') ${verify} -connect ${connect} 2>/dev/null`
  )
}
