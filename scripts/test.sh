#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/test.sh - the README's test command: installs what is missing,
# then builds and runs every test (unit, stress, regression, torture) in four
# builds: release, debug (with the protocol-window hooks), ThreadSanitizer
# (hooks too) and AddressSanitizer+UBSan, all with -Werror.
# Usage: scripts/test.sh [preset ...]   (default: release debug tsan asan-ubsan)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
scripts/lint.sh

presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(release debug tsan asan-ubsan)
jobs=$(nproc)
for p in "${presets[@]}"; do
	echo "=== $p ==="
	cmake --preset "$p" >/dev/null
	cmake --build --preset "$p" -j "$jobs"
	ctest --preset "$p"
done
echo "all tests passed: ${presets[*]}"
