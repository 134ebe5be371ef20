#!/usr/bin/env bash
# make bench: fleet converge timings (see benchmarks/bench.py --help and the README's
# Performance section). BENCH_PLAN: targets (default, what issue 11's targets and the plot
# need, about 45 min) or full (the cross product, hours). Knobs, all optional: BENCH_HOSTS
# (1,10,50), BENCH_RULES (4,64,256), BENCH_RULE_HOSTS (10), BENCH_WIDE_FLEETS (mixed),
# BENCH_BACKENDS, BENCH_FLEETS, BENCH_CONNECTIONS (podman,ssh), BENCH_REPEATS (3),
# BENCH_PLOT_REPEATS (1), BENCH_PAYLOAD (1), BENCH_PAYLOAD_RULES (4,256), BENCH_BUDGET
# (seconds; 3600, full 14400), BENCH_PLAY_TIMEOUT (900).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(dirname "$here")/tests/containers/containers.conf}
exec "${VENV:-$(dirname "$here")/.venv}/bin/python" "$here/bench.py" "$@"
