#!/usr/bin/env bash
# The AWX execution-environment definition in docs/execution-environment.md is valid for
# ansible-builder v3: extract it and let `ansible-builder create` (no build, no pull)
# validate it and write its Containerfile; check that it uses the certified base image
# and installs biostar.hardening.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=$(bash "$repo/scripts/tool-venv.sh" ee-tools python3 "$here/requirements.txt")
work=$(mktemp -d /tmp/biostar-ee-doc.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed -n '/<!-- BEGIN AWX EE DEFINITION -->/,/<!-- END AWX EE DEFINITION -->/p' "$repo/docs/execution-environment.md" \
  | sed '1,2d;$d' | sed '$d' >"$work/execution-environment.yml"
grep -q '^version: 3$' "$work/execution-environment.yml" || { echo "no EE definition found in the docs" >&2; exit 1; }
: >"$work/ansible.cfg"
(cd "$work" && "$venv/bin/ansible-builder" create --file execution-environment.yml --context context >/dev/null)
containerfile=$work/context/Containerfile
grep -q 'registry.redhat.io/ansible-automation-platform-25/ee-minimal-rhel9' "$containerfile"
grep -q 'biostar.hardening' "$work/context/_build/requirements.yml"
echo "docs/execution-environment.md: the AWX definition is a valid ansible-builder v3 file"
