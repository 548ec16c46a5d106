#!/usr/bin/env bash
# The all-in-one demo: a lab host that looks like a fresh bare-metal server, osctl's images built
# from debootstrap, the host bootstrapped (registry + etcd as runc system containers under systemd,
# then Docker), a system-container upgrade with its rollback, then OpenStack deployed in containers
# and used with the real openstack client. Idempotent: run it again and it changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

SITE="${OSCTL_DEMO_SITE:-$PWD/demo-site}"
LAB="${OSCTL_DEMO_LAB:-demo}"
export OSCTL_SITE="$SITE"
osctl() { node bin/run.js "$@"; }
step() { printf '\n\033[1;34m### %s\033[0m\n' "$*" >&2; }

step "1/8 lab host (systemd + sshd in a container, its own address): site dir $SITE"
osctl lab up --hosts 1 --name "$LAB" --site "$SITE" --with-packages

step "2/8 images (debootstrap bookworm -> base -> etcd, registry)"
osctl image build base etcd registry

step "3/8 bootstrap: prechecks, registry sent as an OCI archive, etcd pulled from it, then Docker"
osctl bootstrap

step "4/8 upgrade etcd to a new tag, then roll it back"
osctl image build etcd --tag demo-2 --push
osctl system upgrade etcd --tag demo-2
osctl system history etcd
osctl system rollback etcd

step "5/8 OpenStack images (openstack-base -> mariadb, memcached, rabbitmq, keystone, glance, placement, nova-*) pushed to the site registry"
osctl image build --push

step "6/8 deploy OpenStack (dependency order, health-gated), then client config"
osctl deploy ${OSCTL_DEMO_SERVICES:+--services "$OSCTL_DEMO_SERVICES"}
osctl post-deploy
if ! command -v openstack >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-openstackclient >/dev/null
fi
export OS_CLIENT_CONFIG_FILE="$SITE/clouds.yaml" OS_CLOUD=osctl
openstack token issue -c expires -c project_id
openstack endpoint list -c "Service Name" -c Interface -c URL

step "7/8 upgrade nova-api alone to a new tag (same content: tagged, not rebuilt), then roll it back to the exact previous image"
if [[ -z "${OSCTL_DEMO_SERVICES:-}" || ",$OSCTL_DEMO_SERVICES," == *,nova,* ]]; then
  osctl image build nova-api --tag demo-2 --push
  osctl service upgrade nova-api --tag demo-2
  openstack compute service list -c Binary -c Host -c State
  osctl service history nova-api
  osctl service rollback nova-api
  osctl service history nova-api
fi

step "8/8 what runs where"
osctl system status
osctl service list
osctl lab status --name "$LAB"

cat >&2 <<MSG

Done. The lab host is a container booting systemd; osctl reached it over SSH like a real server.
  export OSCTL_SITE=$SITE OS_CLIENT_CONFIG_FILE=$SITE/clouds.yaml OS_CLOUD=osctl
  openstack endpoint list
  node bin/run.js service history keystone
  ssh -i $SITE/id_ed25519 -o UserKnownHostsFile=$SITE/known_hosts root@<address above> runc list
Tear down with: node bin/run.js lab down --name $LAB
MSG
