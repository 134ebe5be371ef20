#!/usr/bin/env bash
# make demo: a small BioStar site in podman containers, hardened and probed.
#
#   biostar-demo-server  BioStar server host; its firewall starts default-deny (nftables)
#   biostar-demo-client  BioStar client workstation; default-deny as well
#   biostar-demo-device  a peer standing in for a BioStar device (no firewall)
#
# Stand-in listeners (scripts/demo/responder.py) answer on BioStar's ports and on one
# control port per protocol that must stay closed, so every probe result is decided by
# the firewall. The script runs site.yml in server mode, verify.yml, then switches the site
# to direct mode (check mode first, then for real), verifies again and runs once more to
# show nothing changes. The tables are printed from what the runs recorded
# (the collection's callback biostar.hardening.fleet_report), which also writes the fleet
# report; a drill at the end flushes the server's firewall and shows the exposures.
# KEEP=1 leaves the containers running.
#
# Expects the venv and the images (make demo builds both first). Only the containers
# created here are touched, and only they are probed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/tests/containers/containers.conf}
venv=${VENV:-$repo/.venv}
export PATH=$venv/bin:$PATH
KEEP=${KEEP:-0}
image=localhost/biostar-hardening-base:latest
server=biostar-demo-server
client=biostar-demo-client
device=biostar-demo-device
containers=("$server" "$client" "$device")
started=$SECONDS
site_mode=server

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

command -v podman >/dev/null || die "podman is missing: run 'make system-deps' (or 'make demo', which does)"
command -v ansible-playbook >/dev/null || die "ansible-playbook is missing from $venv: run 'make venv'"
podman image exists "$image" || die "image $image is missing: run 'make images'"

remove_containers() {
  # By exact name only: never anyone else's containers.
  podman rm --force --time 0 "${containers[@]}" >/dev/null 2>&1 || true
}

work=$(mktemp -d /tmp/biostar-demo.XXXXXX)
# shellcheck disable=SC2317  # called by the EXIT trap
finish() {
  local rc=$?
  if [ "$KEEP" = 1 ]; then
    printf '\nKEEP=1: the site is still running (%s).\n' "${containers[*]}"
    printf 'Inventory: %s/inventory.yml (logs in %s)\n' "$work" "$work"
    printf 'site.yml last ran in %s mode. Probe the site again with:\n' "$site_mode"
    printf '  CONTAINERS_CONF=%s ANSIBLE_COLLECTIONS_PATH=%s/collections \\\n' "$CONTAINERS_CONF" "$work"
    printf '    %s/bin/ansible-playbook -i %s/inventory.yml biostar.hardening.verify -e biostar_mode=%s\n' "$venv" "$work" "$site_mode"
    printf 'Remove with:  podman rm -f -t 0 %s; rm -rf %s\n' "${containers[*]}" "$work"
  else
    remove_containers
    rm -rf "$work"
  fi
  exit "$rc"
}
trap finish EXIT

# The collection, importable as biostar.hardening from this checkout.
mkdir -p "$work/collections/ansible_collections/biostar"
ln -s "$repo" "$work/collections/ansible_collections/biostar/hardening"
export ANSIBLE_COLLECTIONS_PATH=$work/collections
# The collection's recorder: one run record per step in $work, the report in $report_dir.
report_dir=${BIOSTAR_DEMO_REPORT_DIR:-$repo/build/demo-report}
rm -rf "$report_dir"
export ANSIBLE_CALLBACKS_ENABLED=biostar.hardening.fleet_report
export BIOSTAR_REPORT_DIR=$report_dir BIOSTAR_REPORT_RECORDS=$work
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCAL_TEMP=$work/ansible-tmp

say "Starting the site: ${containers[*]}"
remove_containers  # leftovers of an earlier KEEP=1 run
for name in "${containers[@]}"; do
  podman run --detach --init --name "$name" --hostname "$name" \
    --cap-add NET_ADMIN --cap-add NET_RAW "$image" sleep infinity >/dev/null
done
address() { podman inspect --format '{{.NetworkSettings.IPAddress}}' "$1"; }
server_ip=$(address "$server")
client_ip=$(address "$client")
device_ip=$(address "$device")
subnet=$(podman network inspect podman --format '{{range .Subnets}}{{.Subnet}} {{end}}' | awk '{print $1}')
if [ -z "$server_ip" ] || [ -z "$client_ip" ] || [ -z "$device_ip" ] || [ -z "$subnet" ]; then
  die "could not read the containers' addresses from podman"
fi
printf '    server %s, client %s, device %s, network %s\n' "$server_ip" "$client_ip" "$device_ip" "$subnet"

default_deny='table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    meta l4proto { icmp, ipv6-icmp } accept
  }
}'
listen() {  # container, then responder arguments
  local name=$1; shift
  podman cp "$here/demo/responder.py" "$name:/usr/local/bin/biostar-demo-responder.py"
  podman exec --detach "$name" python3 /usr/local/bin/biostar-demo-responder.py "$@" >/dev/null
}
listening() {  # container, count of listening sockets expected
  local _attempt
  for _attempt in $(seq 1 25); do
    [ "$(podman exec "$1" ss -H -lntu | wc -l)" -ge "$2" ] && return 0
    sleep 0.2
  done
  die "the stand-in listeners on $1 did not start"
}
for name in "$server" "$client"; do
  podman exec -i "$name" nft -f - <<<"$default_deny"
done
# BioStar's server-mode ports, plus TCP 1490 and UDP 51111 that must stay closed.
listen "$server" --tcp 1470 1471 1480 1490 --udp 51110 51111
listen "$client" --udp 51110 51111
listening "$server" 6
listening "$client" 2
for name in "$server" "$client"; do
  printf '    %s: input policy %s; listening on %s\n' "$name" \
    "$(podman exec "$name" nft list chain inet filter input | awk '/policy/ {print $NF}' | tr -d ';')" \
    "$(podman exec "$name" ss -H -lntu | awk '{split($5, a, ":"); print $1 "/" a[length(a)]}' | sort -u | xargs)"
done

cat >"$work/inventory.yml" <<EOF
all:
  vars:
    ansible_connection: containers.podman.podman
    ansible_python_interpreter: /usr/bin/python3
    biostar_allowed_sources: ["$subnet"]
    biostar_verify_timeout: 1
    biostar_verify_retries: 1
    # Every probed UDP port has a responder, so silence can only mean dropped.
    biostar_verify_udp_no_answer_means: closed
  children:
    biostar_servers:
      hosts:
        $server:
          biostar_probe_address: $server_ip
          biostar_verify_extra_checks:
            - {protocol: tcp, port: 1490, expect: closed}
            - {protocol: udp, port: 51111, expect: closed}
    biostar_clients:
      hosts:
        $client:
          biostar_probe_address: $client_ip
          biostar_verify_extra_checks:
            - {protocol: udp, port: 51111, expect: closed}
    biostar_probes:
      hosts:
        $client: {}
        $device: {}
EOF

status=0
playbook() {  # step name, playbook, extra arguments...
  local step=$1 book=$2; shift 2
  local log=$work/$step.log
  if BIOSTAR_REPORT_RECORD_NAME=$step ansible-playbook -i "$work/inventory.yml" "biostar.hardening.$book" "$@" \
    >"$log" 2>&1; then
    :
  else
    status=1
    printf '    %s failed; the end of its log (%s):\n' "$step" "$log"
    tail -n 40 "$log" | sed 's/^/    | /'
  fi
  [ -s "$work/$step.json" ] || die "$step recorded nothing; see $log"
  grep -h '^\[WARNING\]' "$log" | sed 's/^/    /' || true
  sed -n '/^PLAY RECAP/,$p' "$log" | sed '/^$/d; s/^/    /'
}
report() { python3 "$here/demo/report.py" "$@" || status=1; }

say "site.yml in server mode (Suprema's recommended mode)"
playbook server-site site -e biostar_mode=server
say "verify.yml: probes from the client and from the device"
playbook server-verify verify -e biostar_mode=server
report state "$work/server-site.json" "$work/server-verify.json" --title "Server mode"

say "Switching the site to direct mode: check mode first (nothing is changed)"
playbook direct-check site -e biostar_mode=direct --check --diff
say "site.yml in direct mode"
site_mode=direct
playbook direct-site site -e biostar_mode=direct --diff
say "verify.yml in direct mode"
playbook direct-verify verify -e biostar_mode=direct
report state "$work/direct-site.json" "$work/direct-verify.json" --title "Direct mode"
report change "$work/server-site.json" "$work/server-verify.json" "$work/direct-site.json" \
  "$work/direct-verify.json" --predicted "$work/direct-check.json"

say "site.yml in direct mode again: nothing may change"
playbook direct-rerun site -e biostar_mode=direct
report rerun "$work/direct-rerun.json"

mkdir -p "$report_dir/records" && cp "$work"/*.json "$report_dir/records/"

say "Drill: someone flushes the server's firewall; a verify and a --check run must show it"
saved=$(podman exec "$server" nft list ruleset)
podman exec "$server" nft flush ruleset
drill() {  # step, playbook, arguments: recorded into the drill report only
  local step=$1 book=$2; shift 2
  BIOSTAR_REPORT_DIR=$report_dir/drill BIOSTAR_REPORT_RECORDS=$report_dir/drill/records BIOSTAR_REPORT_RECORD_NAME=$step \
    ansible-playbook -i "$work/inventory.yml" "biostar.hardening.$book" "$@" >"$work/$step.log" 2>&1
}
drill drill-verify verify -e biostar_mode=direct && { status=1; echo "    verify passed with the firewall flushed"; }
drill drill-check site -e biostar_mode=direct --check || { status=1; tail -n 20 "$work/drill-check.log"; }
podman exec -i "$server" nft -f - <<<"$saved"
python3 - "$report_dir/drill/report.json" "$server" <<'PY' || status=1
import json, sys
report = json.load(open(sys.argv[1]))
host = next(h for h in report["hosts"] if h["name"] == sys.argv[2])
kinds = sorted({issue["kind"] for issue in host["issues"]})
print("    %s: %s (%s)" % (host["name"], host["status"], ", ".join(kinds)))
sys.exit(0 if host["status"] == "exposed" and {"not_filtering", "drift", "closed_port_answered"} <= set(kinds) else 1)
PY

printf '\nFleet report (page, JSON and JUnit side by side): %s/report.html\n' "$report_dir"
printf 'The drill (exposures, drift):                      %s/drill/report.html\n' "$report_dir"
printf '\nDemo finished in %ds: %s\n' "$((SECONDS - started))" "$([ "$status" = 0 ] && echo 'all as expected' || echo 'SOMETHING WAS NOT AS EXPECTED (see above)')"
exit "$status"
