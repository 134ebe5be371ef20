#!/usr/bin/env bash
# Install the Debian packages the tests and the demo need: podman with runc (crun does
# not work on these machines), debootstrap for the local images. Idempotent and quiet
# when everything is already there. shellcheck serves ansible-test's shellcheck sanity test.
# More packages can be named as arguments (make report-test adds chromium).
set -euo pipefail
needed=(podman runc debootstrap shellcheck "$@")  # plus any named on the command line (chromium)
missing=()
for pkg in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "installing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
