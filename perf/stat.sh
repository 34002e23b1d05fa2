#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf/stat.sh - one suite row under `perf stat`, for chan and for peers,
# side by side: the software events that work on these machines
# (hardware counters are not exposed here).
#
# Usage: perf/stat.sh <scenario> <cap> [threads] [msgs] [peer ...]
#   e.g. perf/stat.sh mpmc 1 4 1000000 go crossbeam
# Needs the binaries from scripts/bench.sh (build/release, build/peers).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 2 ] || { sed -n 3,10p "$0"; exit 2; }
scenario=$1 cap=$2 threads=${3:-4} msgs=${4:-1000000}
shift $(( $# < 4 ? $# : 4 ))
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(go crossbeam)
events=context-switches,cpu-migrations,task-clock,page-faults

run()
{
	local impl=$1 bin=$2
	echo "=== $impl: $scenario cap=$cap threads=$threads msgs=$msgs"
	perf stat -e "$events" -x, -o /tmp/perf-stat.$$ "$bin" "$scenario" "$cap" "$threads" "$msgs"
	awk -F, '$3 ~ /./ { printf "  %-18s %14s %s\n", $3, $1, $2 }' /tmp/perf-stat.$$
	rm -f /tmp/perf-stat.$$
}

run chan build/release/bench/chan_suite
for p in "${peers[@]}"; do
	run "$p" "build/peers/$p"
done
