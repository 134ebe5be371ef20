#!/usr/bin/env bash
# Run the collection's Linux molecule scenarios (`molecule test` each) in real podman
# containers, and report per-scenario wall time and where it went.
#
#   extensions/molecule/run-scenarios.sh [-j JOBS] [SCENARIO...]     (JOBS default 2)
#
# No SCENARIO: every scenario under extensions/molecule/ except the ones listed in
# SKIPPED below, which are reported with their reason. Exit status is non-zero when any
# scenario fails. Logs: tests/output/molecule/<scenario>.log (each line time-stamped).
#
# It sets up what the scenarios need (TESTBED.md): the local images (cached), podman's
# containers.conf, the venv on PATH, and a private ANSIBLE_HOME under a temp dir that
# is removed at the end, so molecule's ephemeral state and ansible's local temp files
# (~/.ansible/tmp otherwise) never outlive the run.
#   VENV=path             venv to use (default: <repo>/.venv)
#   BIOSTAR_SKIP_IMAGE_BUILD=1   do not call tests/containers/build-images.sh
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# Two at a time: most of a scenario is waiting (container boot, probe timeouts, podman
# exec), so two runs fit a 2-core box with little slowdown each (measured on one: the
# suite took 509 s with -j 1, 222 s with -j 2, 190 s with -j 3).
jobs=2

# Scenarios this machine cannot run, and why. Never skipped silently.
declare -A SKIPPED=(
  [windows]="needs a real Windows host (delegated driver, WinRM/PSRP/SSH): none exists on these Linux machines and PowerShell cannot run here. Run it against your own host with BIOSTAR_WINDOWS_HOST=... extensions/molecule/windows/run.sh"
)

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while getopts "j:h" opt; do
  case $opt in
    j) jobs=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 ;;
  esac
done
shift $((OPTIND - 1))

venv=${VENV:-$repo/.venv}
[ -x "$venv/bin/molecule" ] || { echo "molecule not found in $venv (run make venv)" >&2; exit 2; }
export PATH="$venv/bin:$PATH"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/tests/containers/containers.conf}
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
# No __pycache__ from the verifiers' test modules in the source tree.
export PYTHONDONTWRITEBYTECODE=1

work=$(mktemp -d /tmp/biostar-molecule.XXXXXX)
export ANSIBLE_HOME=$work/ansible-home
logs=$repo/tests/output/molecule
mkdir -p "$logs" "$ANSIBLE_HOME"

declare -A pid_of=() started=() status_of=() secs_of=()
cleanup() {
  # Interrupted: stop the scenario runs this script started, then remove the
  # containers of every scenario that did not finish (by the label create.yml sets).
  for name in "${!pid_of[@]}"; do
    pkill -TERM -P "${pid_of[$name]}" 2>/dev/null
    kill -TERM "${pid_of[$name]}" 2>/dev/null
  done
  for name in "${!started[@]}"; do
    if [ -z "${status_of[$name]:-}" ]; then
      podman ps -aq --filter "label=biostar.hardening.molecule=$name" | xargs -r podman rm -f -t 0 >/dev/null
    fi
  done
  # The temp dir holds molecule's ephemeral dirs; the collection link inside points
  # at the repo and rm -rf removes the link, never what it points to.
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

if [ "${BIOSTAR_SKIP_IMAGE_BUILD:-0}" != 1 ]; then
  bash "$repo/tests/containers/build-images.sh" || { echo "image build failed" >&2; exit 2; }
fi

# Longest first, so parallel runs end together; scenarios not named here follow.
LONGEST_FIRST=(server_firewalld mode_switch client_iptables server_ufw server_nftables check_mode baseline)
all=()
for name in "${LONGEST_FIRST[@]}"; do
  [ -f "$here/$name/molecule.yml" ] && all+=("$name")
done
for file in "$here"/*/molecule.yml; do
  name=$(basename "$(dirname "$file")")
  case " ${all[*]} " in *" $name "*) ;; *) all+=("$name") ;; esac
done
if [ $# -gt 0 ]; then
  wanted=("$@")
else
  wanted=("${all[@]}")
fi

run=() skipped=()
for name in "${wanted[@]}"; do
  if [ ! -f "$here/$name/molecule.yml" ]; then
    echo "no such scenario: $name (have: ${all[*]})" >&2
    exit 2
  fi
  if [ -n "${SKIPPED[$name]:-}" ]; then
    skipped+=("$name")
  else
    run+=("$name")
  fi
done

# One scenario: molecule test, every output line prefixed with the epoch time.
run_one() {
  local name=$1
  cd "$repo" || return 2
  {
    molecule test -s "$name" </dev/null 2>&1
    echo "molecule-exit-status $?"
  } | while IFS= read -r line; do
    printf '%s %s\n' "$EPOCHREALTIME" "$line"
  done >"$logs/$name.log"
  # Leftovers only if molecule itself died: remove this scenario's containers by label.
  podman ps -aq --filter "label=biostar.hardening.molecule=$name" | xargs -r podman rm -f -t 0 >/dev/null
  local status
  status=$(awk '$2 == "molecule-exit-status" { print $3 }' "$logs/$name.log")
  # A verify that found no tests "passes" in molecule: refuse that.
  if grep -q "Skipping, no tests found" "$logs/$name.log"; then
    echo "$(date +%s.%N) harness: a verify step found no tests" >>"$logs/$name.log"
    status=3
  fi
  return "${status:-1}"
}

# "step 12.3s, ..." for every molecule step in a scenario log. molecule prints
# "[scenario > step] Executing" without colour, "scenario ➜ step: Executing" with.
step_times() {
  sed -e 's/\x1b\[[0-9;]*m//g' -e 's/ ➜ \([a-z_]*\): / > \1] /' "$1" | awk '
    / > [a-z_]+\] Executing$/ { step = $0; sub(/\] Executing$/, "", step); sub(/.* > /, "", step); t0 = $1 }
    / > [a-z_]+\] Executed/ && step != "" { printf "%s%s %.0fs", sep, step, $1 - t0; sep = ", "; step = "" }
    END { print "" }'
}

finish() {
  local name=$1 rc=$2
  local secs
  secs=$(awk -v a="${started[$name]}" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  status_of[$name]=$rc
  secs_of[$name]=$secs
  if [ "$rc" = 0 ]; then
    printf '%-18s PASSED  %6ss  (%s)\n' "$name" "$secs" "$(step_times "$logs/$name.log")"
  else
    printf '%-18s FAILED  %6ss  (%s)\n' "$name" "$secs" "$(step_times "$logs/$name.log")"
    echo "---- last lines of $logs/$name.log ----"
    sed 's/\x1b\[[0-9;]*m//g' "$logs/$name.log" | cut -d' ' -f2- | grep -v '^ *$' | tail -n 60
    echo "----"
  fi
}

echo "molecule scenarios: ${run[*]:-none} (jobs: $jobs; logs: $logs)"
for name in "${skipped[@]}"; do
  echo "SKIPPED $name: ${SKIPPED[$name]}"
done

# Wait for any one scenario run to end and record its result.
reap_one() {
  local done_pid rc n
  wait -n -p done_pid
  rc=$?
  for n in "${!pid_of[@]}"; do
    if [ "${pid_of[$n]}" = "$done_pid" ]; then
      unset "pid_of[$n]"
      finish "$n" "$rc"
    fi
  done
}

suite_start=$EPOCHREALTIME
for name in "${run[@]}"; do
  while [ "${#pid_of[@]}" -ge "$jobs" ]; do reap_one; done
  started[$name]=$EPOCHREALTIME
  run_one "$name" &
  pid_of[$name]=$!
done
while [ "${#pid_of[@]}" -gt 0 ]; do reap_one; done

failed=()
for name in "${run[@]}"; do
  [ "${status_of[$name]}" = 0 ] || failed+=("$name")
done
total=$(awk -v a="$suite_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "summary:"
for name in "${run[@]}"; do
  printf '  %-18s %-7s %6ss\n' "$name" "$([ "${status_of[$name]}" = 0 ] && echo passed || echo FAILED)" "${secs_of[$name]}"
done
echo "suite: ${#run[@]} run, $((${#run[@]} - ${#failed[@]})) passed, ${#failed[@]} failed, ${#skipped[@]} skipped; wall time ${total}s"
for name in "${skipped[@]}"; do
  echo "  skipped $name: ${SKIPPED[$name]}"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "  failed: ${failed[*]} (logs in $logs)"
  exit 1
fi
