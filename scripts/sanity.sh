#!/usr/bin/env bash
# Run `ansible-test sanity --venv` on a copy of the collection laid out as
# ansible_collections/biostar/hardening, which is where ansible-test insists on running.
# The copy holds what git would ship (tracked plus untracked-but-not-ignored files).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$repo/.venv}
python=$venv/bin/python

# ansible-test bootstraps pip in each sanity venv with a get-pip script downloaded from a
# host these machines cannot reach. It looks in its cache first, so put a stand-in there
# that installs the interpreter's bundled pip (ensurepip), then lets that pip install the
# exact packages ansible-test asked for, from PyPI.
pip_version=$("$python" - <<'PY'
import os, re, ansible_test
source = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", source).group(1))
PY
)
shim=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [[ ! -f $shim ]] || ! grep -q biostar.hardening "$shim"; then
  mkdir -p "$(dirname "$shim")"
  cat >"$shim" <<'PY'
"""Stand-in for ansible-test's get-pip bootstrap, written by biostar.hardening's sanity.sh."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + args))
PY
fi

work=$(mktemp -d /tmp/biostar-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/biostar/hardening
mkdir -p "$dest"
(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$dest/")
cd "$dest"
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
sanity() { PATH=$venv/bin:$PATH ansible-test sanity --venv --python "$python_version" --color no "$@"; }
if command -v pwsh >/dev/null || (($#)); then
  sanity "$@"
else
  # pslint skips itself without pwsh, but validate-modules crashes on a .ps1 module
  # (FileNotFoundError: pwsh) instead of skipping it. So validate-modules runs on
  # everything except that file, and says so; the .ps1's spec is checked against its
  # documentation by tests/unit/plugins/modules/test_win_firewall_ports_ps1.py.
  echo "sanity: pwsh not found, validate-modules skips plugins/modules/win_firewall_ports.ps1 (its .py docs are still validated)"
  sanity --skip-test validate-modules
  sanity --test validate-modules --exclude plugins/modules/win_firewall_ports.ps1
fi
