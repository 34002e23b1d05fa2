#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/arch/run_aarch64.sh [CC [QEMU]] - the aarch64 context switch
# (core/switch_aarch64.S) on an x86-64 host: tests/arch/switch_test.c
# cross-compiled statically with it, at two optimisation levels (different
# register allocations), and run under qemu-user. CC and QEMU default to
# Debian's aarch64-linux-gnu-gcc and qemu-aarch64 (scripts/setup.sh installs
# them). Exit status 0 when every run passes.
set -euo pipefail
cd "$(dirname "$0")/../.."

cc=${1:-aarch64-linux-gnu-gcc}
qemu=${2:-qemu-aarch64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for opt in -O2 -O3; do
	"$cc" -std=c11 "$opt" -static -fno-omit-frame-pointer -Wall -Wextra -Werror -I. \
		tests/arch/switch_test.c core/switch_aarch64.S -o "$out/switch_test" -lm
	echo "run_aarch64: $opt"
	"$qemu" "$out/switch_test"
done
