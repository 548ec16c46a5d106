/**
 * A connected check read from the host (catalog-schema.ts `connected`): some process of the
 * container whose command line contains `bin/PROCESS` has an established TCP connection to PORT.
 * $1 is the container's main process (Docker's State.Pid), $2 PROCESS, $3 PORT.
 *
 * The same test as `healthcheck_rabbitmq` (templates/_shared; Docker keeps running it in the
 * container every 30 s, as the container's monitor), without what a `docker exec` costs: the
 * engine, containerd and runc setting up a process in the container's namespaces (about 0.18 CPU s
 * each time on a 2-core lab host) and the check's own processes (about 0.1 s), against bash, find
 * and awk here (about 0.03 s; 0.05 s with the SSH session).
 * The container's processes are its main process and its descendants (/proc/PID/task/ * /children,
 * read with bash builtins); root on the host reads their fds, so no runuser; the TCP table is the
 * one of the container's network namespace (/proc/PID/net/tcp{,6}). ESTABLISHED is state 01; the
 * remote address is HEXIP:HEXPORT.
 */
export const CONNECTED_PROBE_SCRIPT = `pid=$1 name=$2 port=$3
[ -r "/proc/$pid/net/tcp" ] || { echo "the container's process $pid is not running" >&2; exit 1; }
declare -A seen
todo=("$pid") fds=()
while ((\${#todo[@]})); do
  p=\${todo[0]} todo=("\${todo[@]:1}")
  [ -z "\${seen[$p]}" ] || continue
  seen[$p]=1
  # A process or thread may end between the glob and the read: then it has no children to add.
  for t in /proc/$p/task/*/children; do c=(); { read -ra c < "$t"; } 2>/dev/null; todo+=("\${c[@]}"); done
  a=(); { mapfile -d '' a < "/proc/$p/cmdline"; } 2>/dev/null
  case " \${a[*]}" in *"bin/$name"*) fds+=("/proc/$p/fd");; esac
done
((\${#fds[@]})) || { echo "no $name process runs in the container" >&2; exit 1; }
inodes=$(find "\${fds[@]}" -lname 'socket:*' -printf '%l ' 2>/dev/null)
tables=("/proc/$pid/net/tcp")
[ ! -r "/proc/$pid/net/tcp6" ] || tables+=("/proc/$pid/net/tcp6")
awk -v s=" \${inodes//[^0-9 ]/} " -v port="$(printf ':%04X' "$port")" '$4 == "01" && substr($3, length($3) - 4) == port && index(s, " " $10 " ") {f = 1} END {exit !f}' "\${tables[@]}" 2>/dev/null \\
  || { echo "no $name process is connected to port $port" >&2; exit 1; }`

/** A connected check's target, `PROCESS:PORT`, in its two parts. */
export function connectedTarget(target: string): {name: string; port: string} {
  const at = target.lastIndexOf(':')
  return {name: target.slice(0, at), port: target.slice(at + 1)}
}

/** The host command: `timeout 5 bash -c SCRIPT osctl-connected PID PROCESS PORT`. */
export function connectedProbeCommand(pid: number, {name, port}: {name: string; port: string}): string[] {
  return ['timeout', '5', 'bash', '-c', CONNECTED_PROBE_SCRIPT, 'osctl-connected', String(pid), name, port]
}
