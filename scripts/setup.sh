#!/usr/bin/env bash
# Idempotent machine setup for osctl's demo and tests on a fresh Debian bookworm machine:
# host packages, a running Docker engine, node modules, a compiled CLI. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "osctl setup needs root (apt-get, dockerd, runc); re-run with sudo" >&2
  exit 2
fi

PKGS=(docker.io runc skopeo umoci debootstrap openssh-client openssh-server curl iproute2 ca-certificates
  # osctl image guest (the test VM disk): initramfs, partition table, FAT, boot loader, depmod, qcow2
  cpio fdisk dosfstools mtools syslinux syslinux-common kmod qemu-utils)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing host packages: ${missing[*]}"
  # Packages must not start their daemons here: osctl decides what runs.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
    systemctl start docker
  else
    nohup dockerd >/var/log/osctl-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/osctl-dockerd.log" >&2; exit 5; }
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

log "building osctl (tsc, then one bundle per command)"
node scripts/build.mjs --if-changed
