#!/usr/bin/env bash
# `make ee`: build the execution environment localhost/biostar-hardening-ee with
# ansible-builder v3 and podman, from the debootstrap base image. The image is tagged
# with a key made of execution-environment.yml, the collection's file checksums and the
# base image id: when none of them changed, nothing is rebuilt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/tests/containers/containers.conf}
venv=$(bash scripts/tool-venv.sh ee-tools python3 tests/ee/requirements.txt)
bash tests/ee/check-awx-example.sh
bash tests/ee/build-base-image.sh

mkdir -p build/ee
rm -f build/ee/biostar-hardening-*.tar.gz
"$venv/bin/ansible-galaxy" collection build --force --output-path build/ee . >/dev/null
mv build/ee/biostar-hardening-*.tar.gz build/ee/biostar-hardening.tar.gz
# The tarball's own bytes carry timestamps; its MANIFEST.json (which holds the checksum
# of FILES.json, which holds every file's checksum) does not.
manifest=$(tar -xzOf build/ee/biostar-hardening.tar.gz MANIFEST.json)
base_id=$(podman image inspect --format '{{.Id}}' localhost/biostar-hardening-ee-base:latest)
key=$( (cat execution-environment.yml meta/execution-environment.yml meta/ee-*.txt; echo "$manifest"; echo "$base_id") \
  | sha256sum | cut -c1-12)
image=localhost/biostar-hardening-ee
if podman image exists "$image:$key"; then
  echo "image $image:$key is cached"
  podman tag "$image:$key" "$image:latest"
  exit 0
fi
echo "building $image:$key with ansible-builder"
log=build/ee/ansible-builder.log
"$venv/bin/ansible-builder" build --file execution-environment.yml --context build/ee/context \
  --container-runtime podman --tag "$image:$key" --tag "$image:latest" -v 2 >"$log" 2>&1 \
  || { tail -n 60 "$log"; echo "ansible-builder failed; full log: $log" >&2; exit 1; }
echo "built $image:$key"
# Drop the images of earlier keys (their layers are mostly shared; the tags would pile up).
podman images --format '{{.Repository}}:{{.Tag}}' "$image" | grep -v -e ":$key\$" -e ':latest$' \
  | xargs -r podman rmi >/dev/null 2>&1 || true
