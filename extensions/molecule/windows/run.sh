#!/usr/bin/env bash
# Run the `windows` molecule scenario against your Windows host, or say plainly why not.
# Usage: BIOSTAR_WINDOWS_HOST=... BIOSTAR_WINDOWS_USER=... BIOSTAR_WINDOWS_PASSWORD=... \
#        extensions/molecule/windows/run.sh [molecule test options]
# See docs/windows.md for the variables.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
venv=${VENV:-$repo/.venv}

if [[ -z ${BIOSTAR_WINDOWS_HOST:-} ]]; then
  echo "SKIPPED molecule scenario 'windows': BIOSTAR_WINDOWS_HOST is not set, so there is no"
  echo "Windows host to run it against (none exists on the project's Linux machines; see"
  echo "docs/windows.md). Nothing was run."
  exit 0
fi

connection=${BIOSTAR_WINDOWS_CONNECTION:-winrm}
case $connection in
  winrm) need=winrm package=pywinrm ;;
  psrp) need=pypsrp package=pypsrp ;;
  ssh) need='' package='' ;;
  *) echo "BIOSTAR_WINDOWS_CONNECTION=$connection: use winrm, psrp or ssh" >&2; exit 2 ;;
esac
if [[ -n $need ]] && ! "$venv/bin/python" -c "import $need" 2>/dev/null; then
  echo "The $connection connection needs the Python package '$package' in $venv:" >&2
  echo "  $venv/bin/pip install $package" >&2
  exit 2
fi

cd "$repo"
export PATH=$venv/bin:$PATH
exec molecule test -s windows "$@"
