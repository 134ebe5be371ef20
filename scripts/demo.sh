#!/usr/bin/env bash
# make demo: a small BioStar site in podman containers, hardened and probed.
#
#   biostar-demo-server  BioStar server host; its firewall starts default-deny (nftables)
#   biostar-demo-client  BioStar client workstation; default-deny as well
#   biostar-demo-device  a peer standing in for a BioStar device (no firewall)
#
# Listeners (tests/site_kit) answer on BioStar's ports and on one control port per
# protocol that must stay closed, so every probe result is decided by the firewall.
# scripts/demo/run.py runs site.yml in server mode, verify.yml, then switches the site
# to direct mode (check mode first, then for real), verifies again and runs once more to
# show nothing changes. The tables are printed from what the runs recorded (the collection's
# callback biostar.hardening.fleet_report), kept in tests/output/demo (BIOSTAR_DEMO_RESULTS),
# which also gets the fleet report (report/) and a drill's report (report/drill/).
# KEEP=1 leaves the containers running; BIOSTAR_DEMO_PREFIX renames them (biostar-demo-).
#
# Expects the venv and the images (make demo builds both first). Only the containers
# created here are touched, and only they are probed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/tests/containers/containers.conf}
export VENV=${VENV:-$repo/.venv}
export PATH=$VENV/bin:$PATH
image=localhost/biostar-hardening-base:latest

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
command -v podman >/dev/null || die "podman is missing: run 'make system-deps' (or 'make demo', which does)"
command -v ansible-playbook >/dev/null || die "ansible-playbook is missing from $VENV: run 'make venv'"
podman image exists "$image" || die "image $image is missing: run 'make images'"
exec "$VENV/bin/python" "$here/demo/run.py"
