#!/usr/bin/env bash
# Build the local test images with debootstrap and import them into podman.
# Nothing is pulled: these machines have no registry. Each image is tagged with a
# hash of this script, so an unchanged script never rebuilds.
#   build-images.sh [NAME...]   builds the named images only (default: all four).
#   base       minimal Debian with nftables, iptables, ufw, python3 and sshd
#              (no iptables-persistent: ufw breaks it in Debian; netfilter-boot has it)
#   firewalld  base plus systemd and firewalld, booted with /sbin/init
#   netfilter-boot  systemd, nftables and iptables with iptables-persistent, booted with
#              /sbin/init: nftables.service and netfilter-persistent load the saved rules
#              at boot (tests/reliability/restart.py enables one of them per host)
#   ufw-boot   systemd and ufw (ufw breaks iptables-persistent in Debian, so its own image);
#              ufw.service loads ufw's rule files at boot
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
suite=${BIOSTAR_IMAGE_SUITE:-bookworm}
key=$(sha256sum <"$0" | cut -c1-12)

base_packages=python3,iproute2,nftables,iptables,ufw,procps,openssh-server
firewalld_packages=$base_packages,systemd,systemd-sysv,dbus,libpam-systemd,netbase,firewalld,python3-dbus,python3-firewall
# The boot images: minbase, systemd and the firewall with its boot service, nothing else.
boot_packages=python3,iproute2,procps,systemd,systemd-sysv
netfilter_boot_packages=$boot_packages,nftables,iptables,iptables-persistent,netfilter-persistent
ufw_boot_packages=$boot_packages,ufw,nftables

# Per-image steps on the finished rootfs, run by build() when defined (setup_<name>).
quiet_boot() {
  # No apt timers in a test container: a boot must never reach for the network.
  chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer >/dev/null
}
setup_netfilter_boot() {
  quiet_boot "$1"
  # iptables-persistent's postinst saved whatever ruleset the build machine had: drop it.
  rm -f "$1/etc/iptables/rules.v4" "$1/etc/iptables/rules.v6"
  chroot "$1" systemctl enable nftables.service netfilter-persistent.service >/dev/null
}
setup_ufw_boot() {
  quiet_boot "$1"
  # ufw.service starts ufw at boot only when ufw.conf says so (ufw enable writes the same).
  sed -i 's/^ENABLED=.*/ENABLED=yes/' "$1/etc/ufw/ufw.conf"
  chroot "$1" systemctl enable ufw.service >/dev/null
}

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
  if [ -x "$rootfs/usr/bin/ssh-keygen" ]; then
    chroot "$rootfs" ssh-keygen -A >/dev/null
    mkdir -p "$rootfs/run/sshd"
  fi
  local setup=setup_${name//-/_}
  if declare -F "$setup" >/dev/null; then "$setup" "$rootfs"; fi
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  tar -C "$rootfs" -c . | podman import "$@" - "$image:$key" >/dev/null
  podman tag "$image:$key" "$image:latest"
  rm -rf "$rootfs" "$rootfs.log"
}

# build-images.sh [NAME...]: only these images (default: all of them).
wanted() { [ ${#selected[@]} -eq 0 ] || [[ " ${selected[*]} " == *" $1 "* ]]; }
selected=("$@")
images="base firewalld netfilter-boot ufw-boot"
for name in "${selected[@]}"; do
  [[ " $images " == *" $name "* ]] || { echo "build-images.sh: unknown image '$name'; valid: $images" >&2; exit 2; }
done
init=(--change 'CMD ["/sbin/init"]')
if wanted base; then build base "$base_packages"; fi
if wanted firewalld; then build firewalld "$firewalld_packages" "${init[@]}"; fi
if wanted netfilter-boot; then build netfilter-boot "$netfilter_boot_packages" "${init[@]}"; fi
if wanted ufw-boot; then build ufw-boot "$ufw_boot_packages" "${init[@]}"; fi
