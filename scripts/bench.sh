#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/bench.sh - the README's main command: installs what is missing,
# builds chan (release) and the peers (Go, crossbeam-channel, ck_ring, urcu
# wfcqueue, moodycamel, a mutex+condvar channel), runs the pipeline demo and
# the benchmark suite side by side, and writes results/latest/{table.txt,
# results.csv,results.json,plot.png}; then the pattern benchmarks (chan and
# Go, bench/run_patterns.py) into results/latest/patterns_{table.txt,...}, and the
# pub/sub benchmarks (chan, Go, tokio; bench/run_pubsub.py) into
# results/latest/pubsub_{table.txt,.csv}, the rate limiter and semaphore
# benchmarks (chan, x/time/rate, x/sync/semaphore; bench/run_limiter.py) into
# results/latest/limiter_table.{txt,csv}, and the worker pool against Go's errgroup
# (bench/run_pool.py) into results/latest/pool_{table.txt,.csv}, and the M:N
# scheduler's micro-benchmarks against Go's (bench/run_sched.py) into
# results/<stamp>-sched/{table.txt,results.json}; the network bridge against
# raw NNG (bench/net_bench) into results/<stamp>-net/table.txt. The suite's table has a
# chan_go column: the same workloads with goroutines instead of threads.
# Arguments go to bench/run_suite.py: --quick (smoke run), --msgs N,
# --threads T, --repeats R, --only ROWS, --sweep 1,2,4,8,16, --impls LIST;
# --quick and --repeats also go to run_patterns.py, run_pubsub.py, run_limiter.py,
# run_pool.py and run_sched.py, which are skipped when --only or --sweep picks rows of the
# suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh bench
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target pipeline_demo core_bench chan_suite \
	pattern_bench pubsub_bench limiter_bench pool_bench sched_bench net_bench
bash bench/peers/build.sh
echo "=== pipeline demo ==="
build/release/examples/pipeline_demo
echo "=== benchmark suite ($(nproc) CPUs, $(uname -r)) ==="
python3 bench/run_suite.py "$@"

patterns=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) patterns+=(--quick) ;;
	--repeats) patterns+=(--repeats "${2:-}"); shift ;;
	--repeats=*) patterns+=("$1") ;;
	--only | --only=* | --sweep | --sweep=* | -h | --help) exit 0 ;;
	esac
	shift
done
echo "=== pattern benchmarks, chan and Go ($(nproc) CPUs) ==="
python3 bench/run_patterns.py "${patterns[@]}"
echo "=== pub/sub benchmarks, chan, Go and tokio ($(nproc) CPUs) ==="
python3 bench/run_pubsub.py "${patterns[@]}"
echo "=== rate limiter and semaphore benchmarks, chan and Go ($(nproc) CPUs) ==="
python3 bench/run_limiter.py "${patterns[@]}"

echo "=== worker pool, chan and Go errgroup ($(nproc) CPUs) ==="
python3 bench/run_pool.py "${patterns[@]}"

echo "=== M:N scheduler micro-benchmarks, chan and Go ($(nproc) CPUs) ==="
python3 bench/run_sched.py "${patterns[@]}"

echo "=== network bridge against raw NNG ($(nproc) CPUs) ==="
net_out=results/$(date -u +%Y%m%d-%H%M%S)-net
mkdir -p "$net_out"
build/release/bench/net_bench "${patterns[@]}" | tee "$net_out/table.txt"
