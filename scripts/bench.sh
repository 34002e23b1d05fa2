#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/bench.sh - the README's main command: installs what is missing,
# builds chan (release) and the peers (Go, crossbeam-channel, ck_ring, urcu
# wfcqueue, moodycamel, a mutex+condvar channel), runs the pipeline demo and
# the benchmark suite side by side, and writes results/latest/{table.txt,
# results.csv,results.json,plot.png}.
# Arguments go to bench/run_suite.py: --quick (smoke run), --msgs N,
# --threads T, --repeats R, --only ROWS, --sweep 1,2,4,8,16, --impls LIST.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh bench
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target pipeline_demo core_bench chan_suite
bash bench/peers/build.sh
echo "=== pipeline demo ==="
build/release/examples/pipeline_demo
echo "=== benchmark suite ($(nproc) CPUs, $(uname -r)) ==="
exec python3 bench/run_suite.py "$@"
