#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf/record.sh - a cpu-clock profile of one suite row (perf record -e
# cpu-clock, which works without hardware counters) and its top symbols.
#
# Usage: perf/record.sh <scenario> <cap> [threads] [msgs] [impl]
#   impl: chan (default) or a peer name from build/peers
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 2 ] || { sed -n 3,8p "$0"; exit 2; }
scenario=$1 cap=$2 threads=${3:-4} msgs=${4:-1000000} impl=${5:-chan}
bin=build/release/bench/chan_suite
[ "$impl" != chan ] && bin=build/peers/$impl
data=$(mktemp /tmp/perf-record.XXXXXX)
perf record -q -e cpu-clock -F 4999 -g -o "$data" -- "$bin" "$scenario" "$cap" "$threads" "$msgs"
echo "=== top symbols: $impl $scenario cap=$cap threads=$threads msgs=$msgs"
perf report -i "$data" --stdio --no-children --sort symbol 2>/dev/null |
	grep -E '^ +[0-9.]+%' | head -25
rm -f "$data"
