#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf/callgrind.sh - instructions per message on the uncontended path
# (one thread: chan_send then chan_recv on a capacity-1024 channel), counted
# by valgrind's callgrind: exact and repeatable, unlike time on a shared VM.
# Two runs of different lengths cancel out start-up and teardown:
#   per message = (Ir(n2) - Ir(n1)) / (n2 - n1)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/release/bench/core_bench
n1=20000 n2=120000
count()
{
	local out
	out=$(mktemp /tmp/callgrind.XXXXXX)
	valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" -b uncontended -n "$1" -r 1 \
		>/dev/null 2>&1
	callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
	rm -f "$out"
}
i1=$(count $n1)
i2=$(count $n2)
echo "uncontended send+recv (cap 1024, 8-byte elements): $(( (i2 - i1) / (n2 - n1) )) instructions per message pair"
echo "(Ir $i1 for $n1 pairs, $i2 for $n2 pairs)"
