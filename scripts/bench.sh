#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/bench.sh - the README's main command: installs what is missing,
# builds the release preset, runs the pipeline demo and the core benchmark
# (medians of 3 runs). Extra arguments go to core_bench (-q: quick run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target pipeline_demo core_bench
echo "=== pipeline demo ==="
build/release/examples/pipeline_demo
echo "=== core benchmark ($(nproc) CPUs, $(uname -r)) ==="
build/release/bench/core_bench "$@"
