#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/model/check.sh [-j JOBS] [-k] [PATTERN] - model-check chan's parking
# protocol with spin (see protocol.pml): every model and property; every
# mutant, in which spin must find an error; every coverage probe, whose path
# spin must reach (PROBE in protocol.pml). Prints, per run, the verdict, the
# states stored, the memory, the wall and CPU time; exits non-zero if a
# property fails, a mutant passes or a probe is not reached. Build outputs
# (pan.c, pan, trails) live in a temporary directory (-k keeps it).
# PATTERN: only the runs whose name contains it. -j: runs at once (default
# 2, or 1 on a single CPU).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
jobs=$(($(nproc 2>/dev/null || echo 1) > 1 ? 2 : 1))
keep=0
pattern=
while [ $# -gt 0 ]; do
	case $1 in
	-j) jobs=$2; shift 2 ;;
	-k) keep=1; shift ;;
	-h | --help) sed -n '3,11p' "$0"; exit 0 ;;
	*) pattern=$1; shift ;;
	esac
done

for tool in spin gcc; do
	if ! command -v "$tool" >/dev/null; then
		echo "model: $tool is missing (scripts/setup.sh test installs it)" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/chan-model.XXXXXX")
if [ "$keep" = 1 ]; then
	echo "model: work directory $work"
else
	trap 'rm -rf "$work"' EXIT
fi

# name | expect (pass; fail: a mutant; reach: a probe) | kind (safety:
# assertions and invalid end states; np: non-progress cycles, without
# fairness) | model | spin -D flags
runs=(
	# The queue lock on its own (Drepper's mutex, futex calls included).
	"lock|pass|safety|lock.pml|"
	"lock-np|pass|np|lock.pml|"
	# (a) one buffered channel, capacity 1, 2 senders + 2 receivers; a
	# sender and a receiver with deadlines.
	"buffered|pass|safety|buffered.pml|-DTMASK=5"
	"buffered-np|pass|np|buffered.pml|-DNR=1 -DM=2 -DTMASK=1"
	# Capacity 2, one sender with 2 values, 2 receivers: where this model
	# found a lost wakeup (protocol.pml, "DEFECT FOUND"; the old code is
	# the mutant mut-torn-ready below); and 2 senders + 2 receivers.
	"buffered-cap2|pass|safety|buffered.pml|-DCAP=2 -DNS=1 -DK=2 -DM=1"
	"buffered-cap2-timed|pass|safety|buffered.pml|-DCAP=2 -DNS=1 -DK=2 -DM=1 -DTMASK=1"
	"buffered-cap2-2x2|pass|safety|buffered.pml|-DCAP=2 -DTMASK=4"
	# (b) the unbuffered rendezvous, 2 senders + 2 receivers, 3 timed.
	"unbuffered|pass|safety|unbuffered.pml|-DTMASK=7"
	"unbuffered-np|pass|np|unbuffered.pml|-DTMASK=1"
	# (c) a select over two channels; the select and the senders timed.
	"select|pass|safety|select.pml|-DTMASK=7"
	"select-unbuf|pass|safety|select.pml|-DUNBUF1 -DTMASK=3"
	"select-np|pass|np|select.pml|-DTMASK=0"
	"select-close|pass|safety|select.pml|-DCLOSE1 -DTMASK=1"
	"select-unbuf-close|pass|safety|select.pml|-DCLOSE1 -DUNBUF1 -DTMASK=1"
	# (d) close wakes everyone.
	"close-sender|pass|safety|close.pml|-DNR=1 -DTMASK=3"
	"close-receivers|pass|safety|close.pml|-DK=1 -DTMASK=2"
	"close-unbuf|pass|safety|close.pml|-DUNBUF -DTMASK=2"
	# Mutants: each must be caught.
	"mut-lock-exch1|fail|safety|lock.pml|-DMUT_LOCK_EXCH1"
	"mut-lock-nowake|fail|safety|lock.pml|-DMUT_LOCK_NOWAKE"
	"mut-torn-ready|fail|safety|buffered.pml|-DCAP=2 -DNS=1 -DK=2 -DM=1 -DMUT_TORN_READY"
	"mut-no-recheck|fail|safety|buffered.pml|-DTMASK=5 -DMUT_NO_RECHECK"
	"mut-notify-early|fail|safety|buffered.pml|-DTMASK=5 -DMUT_NOTIFY_EARLY"
	"mut-unpark-first|fail|safety|buffered.pml|-DTMASK=5 -DMUT_UNPARK_FIRST"
	"mut-abort-nocheck|fail|safety|buffered.pml|-DTMASK=5 -DMUT_ABORT_NOCHECK"
	"mut-claim-racy|fail|safety|buffered.pml|-DTMASK=5 -DMUT_CLAIM_RACY"
	"mut-futex-store|fail|safety|buffered.pml|-DTMASK=5 -DMUT_FUTEX_STORE"
	"mut-futex-noatomic|fail|safety|buffered.pml|-DTMASK=5 -DMUT_FUTEX_NOATOMIC"
	"mut-spin-ready|fail|np|buffered.pml|-DNR=1 -DM=2 -DTMASK=1 -DMUT_SPIN_READY"
	"mut-unbuf-unpark-early|fail|safety|unbuffered.pml|-DTMASK=7 -DMUT_UNPARK_EARLY"
	"mut-unbuf-split|fail|safety|unbuffered.pml|-DTMASK=7 -DMUT_UNBUF_SPLIT"
	"mut-select-no-recheck|fail|safety|select.pml|-DTMASK=7 -DMUT_NO_RECHECK"
	"mut-select-nounqueue|fail|safety|select.pml|-DTMASK=7 -DMUT_SEL_NOUNQUEUE"
	"mut-select-abort-nocheck|fail|safety|select.pml|-DTMASK=7 -DMUT_ABORT_NOCHECK"
	"mut-select-unpark-early|fail|safety|select.pml|-DUNBUF1 -DTMASK=3 -DMUT_UNPARK_EARLY"
	"mut-select-spin-ready|fail|np|select.pml|-DTMASK=0 -DMUT_SPIN_READY"
	"mut-close-late|fail|safety|close.pml|-DK=1 -DTMASK=2 -DMUT_CLOSE_LATE"
	# Probes: the races the properties are about are really explored.
	"reach-recheck-abort-lost|reach|safety|buffered.pml|-DTMASK=5 -DREACH=1"
	"reach-timeout-abort-lost|reach|safety|buffered.pml|-DTMASK=5 -DREACH=2"
	"reach-unbuf-timeout-lost|reach|safety|unbuffered.pml|-DTMASK=7 -DREACH=3"
	"reach-claim-cas-lost|reach|safety|select.pml|-DTMASK=7 -DREACH=4"
	"reach-stale-futex-wake|reach|safety|buffered.pml|-DTMASK=5 -DREACH=5"
	"reach-park-timeout-lost|reach|safety|unbuffered.pml|-DTMASK=7 -DREACH=6"
	"reach-close-claims|reach|safety|close.pml|-DK=1 -DTMASK=2 -DREACH=7"
	"reach-select-recheck-lost|reach|safety|select.pml|-DTMASK=7 -DREACH=8"
	"reach-select-timeout-lost|reach|safety|select.pml|-DUNBUF1 -DTMASK=3 -DREACH=9"
	"reach-select-retry-fails|reach|safety|select.pml|-DTMASK=7 -DREACH=10"
)

# One run, in its own directory: writes $dir/result (one line) and, for a
# failed property, $dir/trail.txt.
one() {
	local name=$1 expect=$2 kind=$3 model=$4 flags=$5
	local dir=$work/$name cc=-DSAFETY panflags=(-m500000) t0 t1
	# A mutant's error comes within a few thousand states: -O0 compiles in
	# a second. A full search pays for optimization (dead store elimination
	# off: it takes most of gcc's time on pan.c and buys nothing here).
	# select.pml's pan.c takes gcc 3-4 s even so, and its runs are small:
	# -O0 there too.
	local opt="-O1 -fno-dse -fno-tree-dse"
	if [ "$expect" != pass ] || [ "$model" = select.pml ]; then
		opt=-O0
	fi
	mkdir -p "$dir"
	cp "$here"/*.pml "$dir"/
	cd "$dir"
	if [ "$kind" = np ]; then
		cc=-DNP
		panflags+=(-l)
	fi
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086 # flags is a list of -D options
	if ! spin $flags -a "$model" >spin.log 2>&1; then
		echo "$name|ERROR|spin -a failed: $(head -c 300 spin.log)" >result
		return
	fi
	# shellcheck disable=SC2086 # opt is a list of options
	if ! gcc $opt -w $cc -DCOLLAPSE -DMEMLIM=3072 -o pan pan.c >gcc.log 2>&1; then
		echo "$name|ERROR|gcc failed: $(head -c 300 gcc.log)" >result
		return
	fi
	./pan "${panflags[@]}" >pan.out 2>&1 || true
	t1=$(date +%s.%N)
	local errors states mem secs first verdict
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | tail -1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | tail -1)
	mem=$(sed -n 's/^ *\([0-9.]*\)[[:space:]]*total actual memory usage.*/\1/p' pan.out | tail -1)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	first=$(grep -m1 -E '^pan:1:|error:' pan.out || true)
	if [ -z "$errors" ]; then
		verdict=ERROR
		first="pan did not finish: $(tail -c 300 pan.out)"
	elif grep -qE 'max search depth too small|reached -DMEMLIM|out of memory' pan.out; then
		verdict=ERROR
		first="search incomplete: $(grep -m1 -E 'max search depth too small|reached -DMEMLIM|out of memory' pan.out)"
	elif [ "$expect" = pass ] && [ "$errors" = 0 ]; then
		verdict=ok
	elif [ "$expect" = fail ] && [ "$errors" != 0 ]; then
		verdict=caught
	elif [ "$expect" = reach ] && [ "$errors" != 0 ]; then
		verdict=reached
	elif [ "$expect" = reach ]; then
		verdict=UNREACHED
		first="spin never reached the probe"
	elif [ "$expect" = pass ]; then
		verdict=FAIL
		# The counterexample, one step per line.
		# shellcheck disable=SC2086
		spin $flags -t -p "$model" 2>&1 |
			grep -E '^ *[0-9]+:[[:space:]]+proc +[0-9]+ ' |
			sed -E 's/^ *[0-9]+:[[:space:]]+//; s/ *\(state [0-9]+\)//; s/[[:space:]]+/ /g' |
			grep -vE '\[(else|\(1\)|\.\(goto\)|skip|break)\]$' >trail.txt || true
	else
		verdict=MISSED
		first="the mutant passed: spin found no error"
	fi
	# CPU seconds of spin, gcc and pan (the children's user + system).
	local cpu
	times >times.txt # a redirection, not a pipe: no subshell
	cpu=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.1f", t }' times.txt)
	echo "$name|$verdict|$kind|$model $flags|${states:-?}|${mem:-?}|$secs|$cpu|$first" >result
}

selected=()
for r in "${runs[@]}"; do
	name=${r%%|*}
	case $name in *"$pattern"*) selected+=("$r") ;; esac
done
if [ ${#selected[@]} -eq 0 ]; then
	echo "model: no run matches '$pattern'" >&2
	exit 1
fi

start=$(date +%s)
running=0
for r in "${selected[@]}"; do
	IFS='|' read -r name expect kind model flags <<<"$r"
	(one "$name" "$expect" "$kind" "$model" "$flags") &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait

bad=0
cputotal=0
printf '%-26s %-7s %-6s %12s %9s %7s %7s  %s\n' run verdict kind states MB wall_s cpu_s model
for r in "${selected[@]}"; do
	name=${r%%|*}
	res=$work/$name/result
	if [ ! -f "$res" ]; then
		echo "$name: no result" >&2
		bad=1
		continue
	fi
	IFS='|' read -r n verdict kind what states mem secs cpu first <"$res"
	cputotal=$(awk -v a="$cputotal" -v b="$cpu" 'BEGIN { printf "%.1f", a + b }')
	if [ "$verdict" = ERROR ]; then
		printf '%-26s %-7s %s\n' "$n" "$verdict" "$kind"
	else
		printf '%-26s %-7s %-6s %12s %9s %7s %7s  %s\n' "$n" "$verdict" "$kind" "$states" "$mem" "$secs" "$cpu" "$what"
	fi
	case $verdict in
	ok) ;;
	caught) echo "    ($first)" ;;
	reached) ;;
	*)
		bad=1
		echo "    $first"
		if [ -s "$work/$name/trail.txt" ]; then
			echo "    counterexample ($(wc -l <"$work/$name/trail.txt") steps, the last 250; local-only steps left out):"
			tail -n 250 "$work/$name/trail.txt" | sed 's/^/      /'
		fi
		;;
	esac
done
echo "model: ${#selected[@]} runs in $(($(date +%s) - start)) s, $cputotal CPU s, $jobs at once"
if [ "$bad" != 0 ]; then
	echo "model: FAILED (see above)"
	exit 1
fi
echo "model: all properties hold, every mutant was caught, every probe reached"
