#!/bin/sh
# molecule's dependency step for every scenario: make `biostar.hardening` resolve to
# this checkout without installing it. The link lives under molecule's ephemeral
# directory (given as $1), outside the repository, so nothing walks into a loop.
# containers.podman, ansible.posix and community.general come from the venv's
# `ansible` package, which ansible-core finds on its Python path.
set -eu
root=${1:?usage: link-collection.sh DIR}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$root/ansible_collections/biostar"
ln -sfn "$repo" "$root/ansible_collections/biostar/hardening"
test -f "$root/ansible_collections/biostar/hardening/galaxy.yml"
echo "biostar.hardening -> $repo (collections path $root)"
