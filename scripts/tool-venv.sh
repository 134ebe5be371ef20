#!/usr/bin/env bash
# Create (once) a separate virtualenv for a tool, outside the pinned dev venv, and print
# its path. The venv is keyed by the interpreter's version and the requirements file's
# hash, so an unchanged requirements file never reinstalls; CI builds it on first use.
#   scripts/tool-venv.sh NAME PYTHON REQUIREMENTS_FILE
# BIOSTAR_TOOLS_DIR (default ~/.cache/biostar-hardening/venvs) holds the venvs.
set -euo pipefail
name=$1 python=$2 requirements=$3
command -v "$python" >/dev/null || { echo "tool-venv: interpreter $python not found" >&2; exit 1; }
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key=$(sha256sum <"$requirements" | cut -c1-12)
root=${BIOSTAR_TOOLS_DIR:-$HOME/.cache/biostar-hardening/venvs}
venv=$root/$name-py$pyver-$key
if [[ ! -f $venv/.complete ]]; then
  rm -rf "$venv"
  mkdir -p "$root"
  echo "tool-venv: creating $venv (python $pyver, $requirements)" >&2
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$requirements" >&2
  touch "$venv/.complete"
fi
echo "$venv"
