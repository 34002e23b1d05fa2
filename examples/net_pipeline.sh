#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/net_pipeline.sh [NET_PIPELINE] - the pipeline across four
# processes over ipc://: a collector, two workers and a producer. Prints
# the collector's output (1 4 9 ... 100, one a line); exits non-zero if any
# process failed. Every process is bounded by `timeout`.
set -euo pipefail
exe=${1:-$(dirname "$0")/../build/examples/net_pipeline}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
work="ipc://$dir/work.ipc"
results="ipc://$dir/results.ipc"
t=60

timeout $t "$exe" collector "$results" 2 >"$dir/out" & collector=$!
timeout $t "$exe" worker "$work" "$results" & w1=$!
timeout $t "$exe" worker "$work" "$results" & w2=$!
timeout $t "$exe" producer "$work" & producer=$!
fail=0
for p in $producer $w1 $w2 $collector; do
	wait "$p" || fail=1
done
cat "$dir/out"
exit $fail
