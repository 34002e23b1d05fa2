#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/lint.sh - house-style checks that a compiler cannot make (STYLE.md
# rules 12 and 13): our code uses <stdatomic.h> _explicit forms only.
set -euo pipefail
cd "$(dirname "$0")/.."

dirs=(ring core include)
[ -d patterns ] && dirs+=(patterns)
[ -d net ] && dirs+=(net)
bad=$(grep -rnE '__atomic_|__sync_|\bvolatile\b|\basm\b|__asm__|atomic_thread_fence|atomic_signal_fence' \
	--include='*.c' --include='*.h' "${dirs[@]}" |
	grep -vE '^[^:]+:[0-9]+:\s*(\*|/\*|//)' || true)
if [ -n "$bad" ]; then
	echo "lint: forbidden atomics/asm in our code (STYLE.md rules 12-13):"
	echo "$bad"
	exit 1
fi
# Every atomic access names its order.
implicit=$(grep -rnE '\batomic_(load|store|exchange|fetch_[a-z]+|compare_exchange_(weak|strong))\(' \
	"${dirs[@]}" --include='*.c' --include='*.h' || true)
if [ -n "$implicit" ]; then
	echo "lint: atomic operations without an explicit memory order:"
	echo "$implicit"
	exit 1
fi
echo "lint: ok"
