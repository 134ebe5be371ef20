#!/usr/bin/env bash
# make bench: fleet converge timings. Options via env: BENCH_HOSTS (10), BENCH_REPEATS (3),
# BENCH_BACKENDS (nftables,iptables,ufw).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(dirname "$here")/tests/containers/containers.conf}
exec "${VENV:-$(dirname "$here")/.venv}/bin/python" "$here/bench.py" "$@"
