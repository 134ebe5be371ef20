#!/usr/bin/env bash
# `make changelog`: render CHANGELOG.rst and changelogs/changelog.yaml from the fragments
# with antsibull-changelog, for the version in galaxy.yml. Safe to run again after more
# fragments land: the release is updated in place (--update-existing) and the fragments
# are consumed (keep_fragments: false), so the result depends only on the fragments.
#
# 0.1.0 was never released through antsibull-changelog. Its fragments, listed below (a
# 0.1.0- prefix alone does not tell: later fragments were named that way too), are
# released first, as 0.1.0, dated by the last commit that touched them, so they do not
# end up in the notes of a later version.
#   RELEASE_DATE=YYYY-MM-DD  the release date (default: today, UTC)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bin=${VENV:-$repo/.venv}/bin
export PATH=$bin:$PATH  # antsibull-changelog calls ansible-doc to list new plugins
version=$("$bin/python" -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
fragments=changelogs/fragments

released() {
  "$bin/python" - "$1" <<'PY'
import sys, yaml
releases = yaml.safe_load(open("changelogs/changelog.yaml")).get("releases") or {}
sys.exit(0 if sys.argv[1] in releases else 1)
PY
}

first=()
for name in firewall-ports port-matrix role-playbooks tests-bench win-firewall-ports; do
  [[ -f $fragments/0.1.0-$name.yml ]] && first+=("$fragments/0.1.0-$name.yml")
done
if ! released 0.1.0 && ((${#first[@]})); then
  date_010=$(git log -1 --format=%ad --date=short -- "${first[@]}")
  aside=$(mktemp -d)
  for fragment in "$fragments"/*; do
    [[ " ${first[*]} " == *" $fragment "* ]] || mv "$fragment" "$aside/"
  done
  "$bin/antsibull-changelog" release --version 0.1.0 --date "$date_010" \
    || { mv "$aside"/* "$fragments/" 2>/dev/null; exit 1; }
  mv "$aside"/* "$fragments/" 2>/dev/null || true
  rmdir "$aside"
  echo "changelog: released 0.1.0 ($date_010) from its ${#first[@]} fragments"
fi
date=${RELEASE_DATE:-$(date -u +%F)}
"$bin/antsibull-changelog" release --version "$version" --date "$date" --update-existing
"$bin/antsibull-changelog" lint
echo "changelog: $version ($date) written to CHANGELOG.rst and changelogs/changelog.yaml"
