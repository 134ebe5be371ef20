#!/usr/bin/env bash
# Build the collection tarball and run galaxy-importer on it, as Galaxy and Automation
# Hub do on upload. Passes only when the importer exits 0, reports success, and prints
# no ERROR and no WARNING line (lint findings are WARNING lines).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=$(bash "$repo/scripts/tool-venv.sh" galaxy-importer python3 "$here/requirements.txt")
work=$(mktemp -d /tmp/biostar-galaxy.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$venv/bin/ansible-galaxy" collection build --output-path "$work" "$repo" >/dev/null
tarball=$(ls "$work"/biostar-hardening-*.tar.gz)
# The importer finds ansible-lint and ansible-doc on PATH: use its own venv's only.
rc=0
(cd "$work" && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH PATH="$venv/bin:/usr/bin:/bin" \
  GALAXY_IMPORTER_CONFIG="$here/galaxy-importer.cfg" \
  python -m galaxy_importer.main "$tarball") >"$work/import.log" 2>&1 || rc=$?
grep -v '^Loading ' "$work/import.log"
problems=$(grep -E '^(ERROR|WARNING)' "$work/import.log" || true)
if ((rc != 0)) || [[ -n $problems ]] || ! grep -q '^Importer processing completed successfully' "$work/import.log"; then
  echo "galaxy-importer: FAILED on $(basename "$tarball") (exit $rc)" >&2
  exit 1
fi
echo "galaxy-importer: $(basename "$tarball") imports with no error and no warning"
