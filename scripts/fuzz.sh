#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/fuzz.sh [seconds] [libFuzzer option ...] - build the fuzz preset
# (clang, libFuzzer + ASan + UBSan) and run the differential fuzz target
# tests/fuzz/chan_fuzz.c for a bounded time (default 60 s). It starts from a
# temporary copy of the seed corpus, so the repository is never modified;
# it fails on any crash, mismatch with the model, leak or hang (an input
# running over 10 s). A failing input is kept under build/fuzz/artifacts/:
# replay it with build/fuzz/tests/fuzz/chan_fuzz FILE (CHAN_FUZZ_TRACE=1
# prints every call), shrink it with -minimize_crash=1.
# Long campaigns: perf/fuzz_long.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
[ $# -gt 0 ] && shift
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

work=$(mktemp -d "${TMPDIR:-/tmp}/chan-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" build/fuzz/artifacts
cp tests/fuzz/corpus/* "$work/corpus/"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "fuzz: ${secs}s from $(ls "$work/corpus" | wc -l) seeds"
status=0
build/fuzz/tests/fuzz/chan_fuzz -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/ "$@" "$work/corpus" \
	>"$work/log" 2>&1 || status=$?
cp "$work/log" build/fuzz/fuzz.log
if [ "$status" -ne 0 ]; then
	tail -n 60 "$work/log"
	echo "fuzz: FAILED (status $status); log build/fuzz/fuzz.log, input under build/fuzz/artifacts/"
	exit 1
fi
grep -E '^#[0-9]+' "$work/log" | tail -n 1
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$work/log"
echo "fuzz: ok, $(ls "$work/corpus" | wc -l) inputs in the working corpus"
