#!/usr/bin/env bash
# Build the base image of the execution environment with debootstrap (no registry can be
# reached here, so no certified base image can be pulled) and import it into podman as
# localhost/biostar-hardening-ee-base. Tagged with a hash of this script: an unchanged
# script never rebuilds.
#
# What ansible-builder v3 expects of a base image, and how this one provides it:
#   - python3 with pip and venv (the builder stage makes a venv and pip-installs);
#   - a package manager it can call as `$PKGMGR install -y PKGS` and `$PKGMGR clean all`:
#     Debian has apt-get, so /usr/local/bin/apt-pkgmgr translates (the EE definition
#     sets options.package_manager_path to it);
#   - pip allowed to install into the system Python (Debian marks it externally managed;
#     an EE image is a single-purpose image, so the marker is removed);
#   - the CA certificates this build host trusts, so pip in the build reaches PyPI
#     through the same TLS path the host uses.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/../containers/containers.conf}
suite=${BIOSTAR_IMAGE_SUITE:-bookworm}
key=$( (cat "$0"; cat /etc/ssl/certs/ca-certificates.crt) | sha256sum | cut -c1-12)
image=localhost/biostar-hardening-ee-base
packages=python3,python3-pip,python3-venv,ca-certificates,openssh-client,git,tini

if podman image exists "$image:$key"; then
  echo "image $image:$key is cached"
  podman tag "$image:$key" "$image:latest"
  exit 0
fi
rootfs=$(mktemp -d /var/tmp/biostar-ee-rootfs.XXXXXX)
trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
echo "building $image:$key (debootstrap $suite)"
DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase \
  --include="$packages" "$suite" "$rootfs" >"$rootfs.log" 2>&1 \
  || { tail -n 30 "$rootfs.log"; exit 1; }
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
cat >"$rootfs/usr/local/bin/apt-pkgmgr" <<'SH'
#!/bin/sh
# dnf-style front end to apt-get, for ansible-builder's assemble and install-from-bindep.
set -e
case "$1" in
  install)
    shift
    [ "$1" = "-y" ] && shift
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
    ;;
  clean)
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ;;
  *)
    exec apt-get "$@"
    ;;
esac
SH
chmod 0755 "$rootfs/usr/local/bin/apt-pkgmgr"
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
tar -C "$rootfs" -c . | podman import \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV LANG=C.UTF-8' \
  - "$image:$key" >/dev/null
podman tag "$image:$key" "$image:latest"
echo "built $image:$key"
