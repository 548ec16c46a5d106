#!/usr/bin/env bash
# The all-in-one demo: a lab host that looks like a fresh bare-metal server, osctl's images built
# from debootstrap, the host bootstrapped (registry + etcd as runc system containers under systemd,
# then Docker), and a system-container upgrade with its rollback. Idempotent: run it again and it
# reuses what exists and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

SITE="${OSCTL_DEMO_SITE:-$PWD/demo-site}"
LAB="${OSCTL_DEMO_LAB:-demo}"
export OSCTL_SITE="$SITE"
osctl() { node bin/run.js "$@"; }
step() { printf '\n\033[1;34m### %s\033[0m\n' "$*" >&2; }

step "1/5 lab host (systemd + sshd in a container, its own address): site dir $SITE"
osctl lab up --hosts 1 --name "$LAB" --site "$SITE" --with-packages

step "2/5 images (debootstrap bookworm -> base -> etcd, registry)"
osctl image build base etcd registry

step "3/5 bootstrap: prechecks, registry sent as an OCI archive, etcd pulled from it, then Docker"
osctl bootstrap

step "4/5 upgrade etcd to a new tag, then roll it back"
osctl image build etcd --tag demo-2 --push
osctl system upgrade etcd --tag demo-2
osctl system history etcd
osctl system rollback etcd

step "5/5 what runs where"
osctl system status
osctl lab status --name "$LAB"

cat >&2 <<MSG

Done. The lab host is a container booting systemd; osctl reached it over SSH like a real server.
  export OSCTL_SITE=$SITE
  node bin/run.js system status --json
  ssh -i $SITE/id_ed25519 -o UserKnownHostsFile=$SITE/known_hosts root@<address above> runc list
Tear down with: node bin/run.js lab down --name $LAB
MSG
