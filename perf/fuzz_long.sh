#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf/fuzz_long.sh [minutes] [jobs] [libFuzzer option ...] - a long campaign
# of the differential fuzz target (tests/fuzz/chan_fuzz.c): `minutes`
# (default 30) on `jobs` processes (default 1; more than one runs libFuzzer's
# -fork mode, which shares one corpus). The working corpus persists in
# results/fuzz/corpus (seeded from tests/fuzz/corpus), so campaigns add up;
# crashes land in results/fuzz/artifacts, the log in results/fuzz/fuzz.log.
# To turn a crash into a reproducer: chan_fuzz -minimize_crash=1 -runs=100000
# FILE, then save it under tests/fuzz/crashes/ with a one-line description.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-30} jobs=${2:-1}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

out=results/fuzz
mkdir -p "$out/corpus" "$out/artifacts"
cp -n tests/fuzz/corpus/* "$out/corpus/"
par=()
[ "$jobs" -gt 1 ] && par=(-fork="$jobs")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "fuzz_long: ${minutes} min, ${jobs} job(s), $(ls "$out/corpus" | wc -l) inputs to start"
status=0
build/fuzz/tests/fuzz/chan_fuzz -max_total_time=$((minutes * 60)) -timeout=10 \
	-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/" \
	"${par[@]}" "$@" "$out/corpus" >"$out/fuzz.log" 2>&1 || status=$?
grep -E '^#[0-9]+' "$out/fuzz.log" | tail -n 1 || true
grep -E '^stat::' "$out/fuzz.log" || true
echo "fuzz_long: status $status, $(ls "$out/corpus" | wc -l) inputs in $out/corpus," \
	"$(ls "$out/artifacts" | wc -l) artifacts in $out/artifacts"
exit "$status"
