/**
 * POSIX sh scripts SshHost runs for file operations, so they need nothing on the host beyond
 * coreutils (no SFTP subsystem). Each takes its paths as positional parameters, never spliced in.
 */

// The temp file $t as received: its size and sha256 checked against $size and $sum, then given its
// mode (and owner), and synced. Shared by PUT_SCRIPT and CREATE_SCRIPT.
const SEAL_TEMP = `n=$(wc -c < "$t")
[ "$n" -eq "$size" ] || { echo "received $n of $size bytes" >&2; exit 1; }
h=$(sha256sum < "$t")
[ "\${h%% *}" = "$sum" ] || { echo "sha256 mismatch after transfer" >&2; exit 1; }
chmod "$mode" "$t"
[ -z "$owner" ] || chown -- "$owner" "$t"
sync -- "$t" 2>/dev/null || sync`

// Receives stdin into a temp file next to the target, then checks size and sha256 before the
// rename: a dropped connection ends stdin early, and a truncated file must never replace the target.
export const PUT_SCRIPT = `set -e
phase=$1 f=$2 t=$3 mode=$4 owner=$5 size=$6 sum=$7
d=$(dirname -- "$f")
if [ "$phase" != commit ]; then
  mkdir -p -- "$d"
  trap 'rm -f -- "$t"' EXIT
  (umask 077 && cat > "$t")
  [ "$phase" = receive ] && trap - EXIT && exit 0
fi
trap 'rm -f -- "$t"' EXIT
${SEAL_TEMP}
mv -f -- "$t" "$f"
trap - EXIT
sync -- "$d" 2>/dev/null || true`

// createFile in one command: the bytes land in a temp file (checked like PUT_SCRIPT's), which is then
// hard-linked to the path: link(2) fails when the path exists (exit 17, nothing changed). Missing
// parent directories are created root-only: what is created exclusively here is osctl's own state.
export const CREATE_SCRIPT = `set -e
f=$1 t=$2 mode=$3 owner=$4 size=$5 sum=$6
d=$(dirname -- "$f")
[ -d "$d" ] || (umask 077 && mkdir -p -- "$d")
trap 'rm -f -- "$t"' EXIT
(umask 077 && cat > "$t")
${SEAL_TEMP}
ln -- "$t" "$f" 2>/dev/null || exit 17
sync -- "$d" 2>/dev/null || true`

export const PROBE_SCRIPT = `f=$1
[ -f "$f" ] || { echo absent; exit 0; }
h=$(sha256sum < "$f") || exit 1
echo "\${h%% *}"
exec stat -L -c '%a %U:%G' -- "$f"`

// Every argument's file as `<size>\n<bytes>`, or `-\n` when it is not a regular file.
export const READ_MANY_SCRIPT = `for f in "$@"; do
  if [ -f "$f" ]; then wc -c < "$f" | tr -d ' '; cat -- "$f"; else echo -; fi
done`

// Every regular file directly in $1 as `<name>\n<size>\n<bytes>` (nothing when $1 is missing). Each
// is copied first, so a file removed meanwhile is left out whole, never cut short.
export const READ_DIR_SCRIPT = `cd -- "$1" 2>/dev/null || exit 0
t=$(mktemp) || exit 1
trap 'rm -f -- "$t"' EXIT
for f in * .[!.]* ..?*; do
  [ -f "$f" ] || continue
  case $f in *'
'*) continue;; esac
  cat -- "$f" > "$t" 2>/dev/null || continue
  printf '%s\n' "$f"
  wc -c < "$t" | tr -d ' '
  cat -- "$t"
done`

// CREATE_SCRIPT's argv and stdin; exit 17 when the file was there, else READ_DIR_SCRIPT's output for
// its directory. The subshell's status is taken after it ends: on the left of || (or in an if) its
// own set -e would be ignored, and a failed chmod or chown would go on.
export const CREATE_AND_READ_DIR_SCRIPT = `(
${CREATE_SCRIPT}
)
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
set -- "$(dirname -- "$1")"
${READ_DIR_SCRIPT}`

export const READ_SCRIPT = '[ -e "$1" ] || exit 44; exec cat -- "$1"'
export const EXISTS_SCRIPT = '[ -e "$1" ] || [ -L "$1" ]'

// argv: SHA256 (of all of stdin), N and N directories to create first, then FILE MODE SIZE per file; stdin: the files' bytes, one after
// another. Every file lands in a staging directory of its own directory (same filesystem: dd reads
// exactly SIZE bytes); only when the whole of stdin arrived intact are they synced and renamed into
// place, one mv per directory. Few processes: on a busy host each costs 10-30 ms, and the 105 of
// the one-mv-per-file version made nova's 35 files of a deploy take 2-3 s (5.6 s in one bench run).
export const WRITE_MANY_SCRIPT = `set -e
sum=$1 n=$2
shift 2
# First the directories given (root-only, also when they exist), one install for all.
if [ "$n" -gt 0 ]; then
  d=''
  i=0
  while [ $i -lt "$n" ]; do d="$d$1
"; shift; i=$((i+1)); done
  (IFS='
'; set -f; install -d -m 0700 -- $d)
fi
[ $# -gt 0 ] || exit 0
nl='
'
dirs='' stages='' tmps=''
i=0
for a do
  if [ $((i % 3)) -eq 0 ]; then
    # Paths are split on newlines below (and staging directories removed): absolute, one line.
    case $a in /*"$nl"*|[!/]*|'') echo "not an absolute one-line path: $a" >&2; exit 2;; esac
    d=\${a%/*}
    case "$nl$dirs" in *"$nl$d$nl"*) ;; *) dirs="$dirs$d$nl" stages="$stages$d/.osctl-new.$$$nl";; esac
  fi
  i=$((i+1))
done
trap 'IFS=$nl; set -f; rm -rf -- $stages' EXIT
# A hangup (the SSH connection gone) or a TERM still removes the staging directories.
trap 'exit 129' HUP
trap 'exit 143' TERM
IFS=$nl
set -f
mkdir -p -- $dirs
# A staging directory left by a killed writer with the same pid: gone first.
rm -rf -- $stages
mkdir -m 0700 -- $stages
# Files are 0600 from the start: most of osctl's (configs, ledger) need no chmod of their own.
umask 077
i=0
for a do
  case $((i % 3)) in
    0) f=$a ;;
    1) mode=$a ;;
    *) t="\${f%/*}/.osctl-new.$$/\${f##*/}"
       tmps="$tmps$t$nl"
       if [ "$a" -gt 0 ]; then dd of="$t" bs="$a" count=1 iflag=fullblock status=none; else : > "$t"; fi
       [ "$mode" = 600 ] || chmod "$mode" "$t" ;;
  esac
  i=$((i+1))
done
h=$(cat -- $tmps | sha256sum)
[ "\${h%% *}" = "$sum" ] || { echo "sha256 mismatch after transfer" >&2; exit 1; }
sync -- $tmps 2>/dev/null || sync
# Each file renamed over its target; one mv for the files of a directory (in a row), except the
# last file, renamed alone once all the others were (a ledger record, a backup's metadata: callers
# put last what says the rest is there; mv -t goes on past a failed rename, so not in its batch).
last=\${tmps%$nl}
last=\${last##*$nl}
prev='' batch=''
for t in $tmps; do
  [ "$t" != "$last" ] || continue
  d=\${t%/.osctl-new.$$/*}
  if [ "$d" != "$prev" ] && [ -n "$batch" ]; then mv -f -t "$prev" -- $batch; batch=''; fi
  prev=$d batch="$batch$t$nl"
done
[ -z "$batch" ] || mv -f -t "$prev" -- $batch
mv -f -T -- "$last" "\${last%/.osctl-new.$$/*}/\${last##*/}"
sync -- $dirs 2>/dev/null || true`
