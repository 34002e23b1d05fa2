#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf/torture_long.sh [minutes] [presets...] - the long mode of the torture
# runner (tests/torture/torture.c): for each preset (default: debug tsan,
# the builds with protocol-window hooks), run the torture for the given
# minutes (default 10) in one process, and report rounds, values and seed.
# A failure prints the broken invariant and the seed to replay it with
#   build/<preset>/tests/torture -S <seed>
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-10}
shift || true
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(debug tsan)
mkdir -p results
for p in "${presets[@]}"; do
	cmake --preset "$p" >/dev/null
	cmake --build --preset "$p" -j "$(nproc)" --target torture >/dev/null
	log=results/torture-$p-$(date +%Y%m%d-%H%M%S).log
	echo "=== $p: $minutes min, log in $log ==="
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		"build/$p/tests/torture" -q -s "$((minutes * 60))" 2>&1 | tee "$log" | tail -3
done
