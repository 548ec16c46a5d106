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

step "1/9 lab host (systemd + sshd in a container, its own address): site dir $SITE"
osctl lab up --hosts 1 --name "$LAB" --site "$SITE" --with-packages

step "2/9 images (debootstrap bookworm -> base -> etcd, registry)"
osctl image build base etcd registry

step "3/9 bootstrap: prechecks, registry sent as an OCI archive, etcd pulled from it, then Docker"
osctl bootstrap

step "4/9 upgrade etcd to a new tag, then roll it back"
osctl image build etcd --tag demo-2 --push
osctl system upgrade etcd --tag demo-2
osctl system history etcd
osctl system rollback etcd

step "5/9 OpenStack images (mariadb on base; openstack-base -> memcached, rabbitmq, keystone, glance, placement, nova-*, nova-libvirt, neutron-*) pushed to the site registry"
osctl image build --push

step "6/9 deploy OpenStack (dependency order, health-gated), then client config"
osctl deploy ${OSCTL_DEMO_SERVICES:+--services "$OSCTL_DEMO_SERVICES"}
osctl post-deploy
if ! command -v openstack >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-openstackclient >/dev/null
fi
export OS_CLIENT_CONFIG_FILE="$SITE/clouds.yaml" OS_CLOUD=osctl
openstack token issue -c expires -c project_id
openstack endpoint list -c "Service Name" -c Interface -c URL

step "7/9 upgrade nova-api alone to a new tag (same content: tagged, not rebuilt), then roll it back to the exact previous image"
if [[ -z "${OSCTL_DEMO_SERVICES:-}" || ",$OSCTL_DEMO_SERVICES," == *,nova,* ]]; then
  osctl image build nova-api --tag demo-2 --push
  osctl service upgrade nova-api --tag demo-2
  openstack compute service list -c Binary -c Host -c State
  osctl service history nova-api
  osctl service rollback nova-api
  osctl service history nova-api
fi

step "8/9 a VM: networks, router, flavor and the test guest (post-deploy --init-network), a server on the private network, a floating IP that answers ping"
if [[ -z "${OSCTL_DEMO_SERVICES:-}" ]]; then
  osctl post-deploy --init-network
  if ! openstack server show demo-vm >/dev/null 2>&1; then
    openstack server create --flavor m1.tiny --image osctl-guest --network private --wait demo-vm -c id -c status -c addresses
  fi
  FIP=$(openstack floating ip list --port "$(openstack port list --server demo-vm -f value -c ID | head -n1)" -f value -c "Floating IP Address" | head -n1)
  if [[ -z "$FIP" ]]; then
    FIP=$(openstack floating ip create public -f value -c floating_ip_address)
    openstack server add floating ip demo-vm "$FIP"
  fi
  for _ in $(seq 1 60); do openstack console log show demo-vm | grep -q "osctl-guest: ready" && break; sleep 2; done
  openstack console log show demo-vm | grep "osctl-guest:"
  # The provider network (br-ex) lives on the lab host: ping from there, as from a network host.
  for _ in $(seq 1 30); do docker exec "osctl-$LAB-1" ping -c1 -W1 "$FIP" >/dev/null 2>&1 && break; sleep 1; done
  docker exec "osctl-$LAB-1" ping -c3 -W2 "$FIP"
fi

step "9/9 what runs where"
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
