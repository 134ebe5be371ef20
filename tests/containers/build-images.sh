#!/usr/bin/env bash
# Build the local test images with debootstrap and import them into podman.
# Nothing is pulled: these machines have no registry. Each image is tagged with a
# hash of this script, so an unchanged script never rebuilds.
#   base       minimal Debian with nftables, iptables, ufw, python3 and sshd
#              (no iptables-persistent: its postinst fails under debootstrap)
#   firewalld  base plus systemd and firewalld, booted with /sbin/init
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
suite=${BIOSTAR_IMAGE_SUITE:-bookworm}
key=$(sha256sum <"$0" | cut -c1-12)

base_packages=python3,iproute2,nftables,iptables,ufw,procps,openssh-server
firewalld_packages=$base_packages,systemd,systemd-sysv,dbus,libpam-systemd,netbase,firewalld,python3-dbus,python3-firewall

build() {
  local name=$1 packages=$2; shift 2
  local image=localhost/biostar-hardening-$name
  if podman image exists "$image:$key"; then
    echo "image $image:$key is cached"
    podman tag "$image:$key" "$image:latest"
    return
  fi
  local rootfs
  rootfs=$(mktemp -d /var/tmp/biostar-rootfs.XXXXXX)
  echo "building $image:$key (debootstrap $suite)"
  DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase \
    --include="$packages" "$suite" "$rootfs" >"$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log"; exit 1; }
  # sshd needs host keys and a runtime dir; a container has no first-boot hook.
  chroot "$rootfs" ssh-keygen -A >/dev/null
  mkdir -p "$rootfs/run/sshd"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  tar -C "$rootfs" -c . | podman import "$@" - "$image:$key" >/dev/null
  podman tag "$image:$key" "$image:latest"
  rm -rf "$rootfs" "$rootfs.log"
}

build base "$base_packages"
build firewalld "$firewalld_packages" --change 'CMD ["/sbin/init"]'
