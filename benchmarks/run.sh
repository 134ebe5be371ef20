#!/usr/bin/env bash
# make bench: fleet converge timings (see benchmarks/bench.py --help and the README's
# Performance section). Quick-run knobs, all optional: BENCH_HOSTS (1,10,50), BENCH_RULES
# (4,64,256), BENCH_BACKENDS (nftables,iptables,ufw,firewalld), BENCH_FLEETS (each backend
# and mixed), BENCH_CONNECTIONS (podman,ssh), BENCH_REPEATS (3), BENCH_PAYLOAD (1),
# BENCH_PAYLOAD_RULES (4,256), BENCH_BUDGET (seconds, 14400), BENCH_PLAY_TIMEOUT (900).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(dirname "$here")/tests/containers/containers.conf}
exec "${VENV:-$(dirname "$here")/.venv}/bin/python" "$here/bench.py" "$@"
