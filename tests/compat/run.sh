#!/usr/bin/env bash
# `make compat`: the lookup and role unit tests and one converge, rerun, mode-switch
# sequence in a container (tests/compat/converge_sequence.py), on the oldest ansible-core
# the collection claims (meta/runtime.yml) and on the newest release, each in its own venv
# (scripts/tool-venv.sh; the pinned dev venv is never touched).
#
# ansible-core 2.21 needs Python >= 3.12. The interpreter is taken from PATH
# (python3.13, python3.12) or from pyenv (`pyenv root`/versions/3.13*, 3.12*). When none
# is found the run fails and says so; BIOSTAR_COMPAT_ALLOW_MISSING=1 turns that into a
# loud SKIPPED line instead (never a silent pass).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/tests/containers/containers.conf}

find_python() {  # find_python MIN_MINOR: print an interpreter >= 3.MIN_MINOR, or nothing
  local min=$1 candidate root
  local candidates=(python3.13 python3.12 python3)
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in "${candidates[@]}" "$root"/versions/3.1[3-9]*/bin/python3 "$root"/versions/3.12*/bin/python3; do
    candidate=$(command -v "$candidate" 2>/dev/null) || continue
    if "$candidate" -c "import sys; sys.exit(sys.version_info < (3, $min))" 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
}

work=$(mktemp -d /tmp/biostar-compat-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$repo/.venv/bin/ansible-galaxy" collection build --output-path "$work" . >/dev/null
tarball=$(ls "$work"/biostar-hardening-*.tar.gz)

# label  requirements file  minimum Python minor
matrix=(
  "2.16 tests/compat/requirements-2.16.txt 10"
  "2.21 tests/compat/requirements-2.21.txt 12"
)
failed=() skipped=() passed=()
for entry in "${matrix[@]}"; do
  read -r label requirements min <<<"$entry"
  echo "=== ansible-core $label"
  python=$(find_python "$min")
  if [[ -z $python ]]; then
    message="ansible-core $label NOT RUN: it needs Python >= 3.$min and none was found (looked for python3.13, python3.12, python3 on PATH and in $(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions)"
    echo "$message" >&2
    if [[ ${BIOSTAR_COMPAT_ALLOW_MISSING:-0} == 1 ]]; then skipped+=("$message"); else failed+=("$message"); fi
    continue
  fi
  venv=$(bash scripts/tool-venv.sh "compat-$label" "$python" "$requirements")
  if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/plugins/lookup tests/unit/roles; then
    failed+=("ansible-core $label: unit tests failed")
    continue
  fi
  if ! "$venv/bin/python" tests/compat/converge_sequence.py "$tarball" "biostar-compat-${label//./-}"; then
    failed+=("ansible-core $label: converge/rerun/switch sequence failed")
    continue
  fi
  passed+=("ansible-core $label")
done

echo "=== compat summary"
for line in "${passed[@]}"; do echo "PASSED  $line"; done
for line in "${skipped[@]}"; do echo "SKIPPED $line"; done
for line in "${failed[@]}"; do echo "FAILED  $line"; done
((${#failed[@]} == 0))
