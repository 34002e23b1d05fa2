#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/test.sh - the README's test command: installs what is missing,
# then builds and runs every test (unit, stress, regression, torture, fault
# injection) in four builds: release, debug (with the protocol-window
# hooks), ThreadSanitizer (hooks too) and AddressSanitizer+UBSan, all with
# -Werror; then a minute of differential fuzzing (the pseudo-preset fuzz:
# scripts/fuzz.sh, CHAN_FUZZ_SECONDS to change the time).
# Usage: scripts/test.sh [preset ...]   (default: release debug tsan asan-ubsan fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
scripts/lint.sh

presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(release debug tsan asan-ubsan fuzz)
jobs=$(nproc)
for p in "${presets[@]}"; do
	echo "=== $p ==="
	if [ "$p" = fuzz ]; then
		scripts/fuzz.sh "${CHAN_FUZZ_SECONDS:-60}"
		continue
	fi
	cmake --preset "$p" >/dev/null
	cmake --build --preset "$p" -j "$jobs"
	ctest --preset "$p"
done
echo "all tests passed: ${presets[*]}"
