#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/fuzz/gen_corpus.sh - write the seed corpus (tests/fuzz/corpus/): one
# small program per area of the API, in the byte code that decode_op() in
# chan_fuzz.c reads. Run once after changing the decoding, then commit the
# files; the fuzzer grows its own working corpus from these. It rewrites only
# the seeds it generates: reproducers moved into corpus/ from crashes/ (such as
# select_distinct_versions) stay.
set -euo pipefail
cd "$(dirname "$0")"
out=corpus
mkdir -p "$out"

# ---- the byte code (keep in step with chan_fuzz.c) ----
# Slots 0..5 hold channels; slot 6 is always empty (a NULL channel).
NUL=6
# caps[]: 0 1 2 3 4 7 8 31 32 33 100 unbounded
C0=0 C1=1 C2=2 C3=3 C7=5 C31=7 C33=9 C100=10 CUNB=11
# new's third byte: elem size (bits 0-1: 1 4 8 13), flags (bits 2-3: SP, SC),
# 0x10 no drop(), 0x20 plain chan_new(), bits 6-7 the drop policy (NEWEST,
# OLDEST, both: EINVAL).
E1=0 E4=1 E8=2 E13=3 SP=4 SC=8 NODROP=16 PLAIN=32 DNEW=64 DOLD=128 DBOTH=192
# timeouts[]: 0 -1 INT64_MIN 1 1000 20000 INT64_MAX INT64_MAX-1
T0=0 TNEG=1 TMIN=2 T1NS=3 T1US=4 T20US=5 TMAX=6 TMAX1=7
# a burst byte: 0..7 as is, 0x80|n for n up to 127.
big() { echo $((0x80 | $1)); }
# a select case: slot | 0x80 for a send; its elem byte 7 = NULL, 0xfe/0xfd = bad op.
SEND=128 BUF=0 ENULL=7

bytes=()
emit() { bytes+=("$@"); }
new() { emit 0 "$1" "$2" "$3"; }      # slot cap-index flags-byte
edge() { emit 1 "$1"; }                # which bad (or edge) option set
send() { emit 2 "$1" "${2:-0}"; }      # slot [15: elem NULL]
recv() { emit 3 "$1" "${2:-0}"; }      # slot [7: discard]
try_send() { emit 4 "$1" "${2:-0}"; }
try_recv() { emit 5 "$1" "${2:-0}"; }
send_to() { emit 6 "$1" 0 "$2"; }      # slot timeout-index
recv_to() { emit 7 "$1" 0 "$2"; }
send_burst() { emit 8 "$1" "$2" "${3:-0}"; }  # slot n [31: elems NULL]
recv_burst() { emit 9 "$1" "$2" "${3:-0}"; }  # slot max [7: discard]
try_send_burst() { emit 10 "$1" "$2" "${3:-0}"; }
try_recv_burst() { emit 11 "$1" "$2" "${3:-0}"; }
try_select() { emit 12 "$@"; }         # n, then n pairs (case byte, elem byte)
select_to() { emit 13 "$@"; }          # n, pairs, timeout-index
select_() { emit 14 "$@"; }
close_() { emit 15 "$1"; }
retain() { emit 16 "$1"; }
release() { emit 17 "$1"; }
query_null() { emit 18; }

write() {
	local f=$out/$1 b
	: >"$f"
	for b in "${bytes[@]}"; do
		printf "\\$(printf %03o "$b")" >>"$f"
	done
	bytes=()
}

# Unbuffered: nobody ever waits on the other side, so nothing moves until close.
new 0 $C0 $E8
try_send 0; try_recv 0; send_to 0 $T1US; recv_to 0 $T1US; send_to 0 $T0; recv_to 0 $TNEG
try_send_burst 0 3; try_recv_burst 0 3; send_burst 0 0; recv_burst 0 0
try_select 2  0 $BUF  $SEND $BUF
select_to 2  0 $BUF  $SEND $BUF  $T1US
close_ 0; close_ 0
send 0; recv 0; try_recv 0 7; send_burst 0 4; recv_burst 0 4
select_ 2  0 $BUF  $SEND $BUF
release 0
write unbuffered

# Capacity 1, an odd element size, drop() at the release.
new 1 $C1 $E13
send 1; try_send 1; send_to 1 $T1US; send_to 1 $TMAX; recv 1; recv_to 1 $T20US
send 1; retain 1; release 1; release 1
new 1 $C1 $((E8 | PLAIN)); send 1; recv 1 7; try_recv 1
write cap1

# Small capacity, single producer and consumer: bursts over and under the cap.
new 2 $C7 $((E1 | SP | SC))
send_burst 2 "$(big 127)"; try_send 2; recv_burst 2 3; try_send_burst 2 "$(big 40)"
recv_burst 2 0; send_burst 2 0; try_recv_burst 2 "$(big 100)" 7; try_recv_burst 2 2
close_ 2; send_burst 2 1; recv_burst 2 "$(big 9)"; recv_burst 2 1; try_recv 2
write small_spsc

# Larger capacities (not powers of two): bursts wrap around the ring.
new 3 $C100 $((E4 | SP)); new 4 $C33 $((E4 | SC)); new 5 $C31 $E13
for i in 1 2 3; do
	send_burst 3 "$(big 70)"; recv_burst 3 "$(big 60)"
	send_burst 4 "$(big 20)"; recv_burst 4 "$(big 15)"
	try_send_burst 5 "$(big 30)"; try_recv_burst 5 "$(big 29)"
done
send_burst 3 "$(big 127)"; close_ 3
write large_wrap

# Unbounded: bursts across the list's 31-slot blocks; drop() on what is left.
new 0 $CUNB $E8
send_burst 0 "$(big 100)"; recv_burst 0 "$(big 45)"; try_send_burst 0 "$(big 127)"
try_recv_burst 0 "$(big 127)" 7; send 0; send_to 0 $TMAX1; close_ 0; try_send 0
release 0
new 0 $CUNB $((E1 | PLAIN)); send_burst 0 "$(big 90)"
write unbounded

# Selects: NULL cases, duplicates, send and receive on one channel, closed
# channels, a discarding receive, every kind of select.
new 0 $C0 $E8; new 1 $C1 $E8; new 2 $C2 $E8; new 3 $CUNB $E8
try_select 4  $NUL $BUF  0 $BUF  $((SEND | 0)) $BUF  1 $BUF
try_select 3  $((SEND | 1)) $BUF  $((SEND | 1)) $BUF  1 $ENULL
select_to 1  1 $BUF  $T0
select_to 3  1 $BUF  2 $BUF  $NUL $BUF  $T1US
select_ 2  $((SEND | 2)) $BUF  $((SEND | 3)) $BUF
select_ 8  1 $BUF  2 $BUF  3 $BUF  $((SEND | 1)) $BUF  $((SEND | 2)) $BUF \
	$((SEND | 3)) $BUF  0 $BUF  $NUL $BUF
close_ 0; close_ 2
try_select 2  0 $BUF  $((SEND | 0)) $BUF
select_ 3  2 $ENULL  2 $BUF  $NUL $BUF
select_to 2  $NUL $BUF  $NUL $BUF  $T1US
select_ 1  $NUL $BUF
try_select 0
try_select 2  $((SEND | 1)) $ENULL  1 $BUF
try_select 2  $((SEND | NUL)) $ENULL  1 $BUF
try_select 2  1 0xfe  1 $BUF
select_to 2  1 0xfd  1 $BUF  $T0
try_select 255  1 $BUF  1 $BUF  1 $BUF
write select

# Constructors: every bad option set gives NULL + EINVAL; the largest element.
for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 128 130; do edge $i; done
query_null; retain $NUL; release $NUL
write new_edge

# NULL channels and NULL elements everywhere: -EINVAL, 0 + EINVAL.
new 0 $C2 $E8
send $NUL; recv $NUL; try_send $NUL; try_recv $NUL; send_to $NUL $T1US; recv_to $NUL $T0
send_burst $NUL 3; recv_burst $NUL 3; try_send_burst $NUL 0; try_recv_burst $NUL 0
close_ $NUL; send 0 15; try_send 0 15; send_burst 0 3 31; try_send_burst 0 3 31
write null_args

# Timeouts: due, negative, tiny, and endless ones where the call completes.
new 4 $C2 $E8
send_to 4 $TMAX; send_to 4 $TMAX1; send_to 4 $TMIN; send_to 4 $T1NS; send_to 4 $T20US
recv_to 4 $TMAX; recv_to 4 $TMIN; recv_to 4 $TMAX1; recv_to 4 $T1NS
close_ 4; recv_to 4 $TMAX; send_to 4 $TMAX
write timeouts

# Drop policies: DROP_NEWEST keeps the first values, DROP_OLDEST the last, in
# every send form, bursts above the room, select send cases on full channels,
# drop() on the discards and at the release; bad combinations give EINVAL.
new 0 $C2 $((E8 | DNEW)); new 1 $C3 $((E13 | DOLD | SC)); new 2 $C1 $((E1 | DOLD | SP | NODROP))
new 3 $C0 $((E8 | DNEW)); new 3 $CUNB $((E4 | DOLD)); new 3 $C7 $((E8 | DBOTH))
new 3 $C7 $((E4 | DNEW | SP | SC))
for s in 0 1 2; do
	send $s; try_send $s; send_to $s $T0; send_to $s $TMAX; send $s; try_send $s
	recv $s; try_send_burst $s "$(big 20)"; recv_burst $s 7
	send_burst $s 5; try_recv $s
done
send_burst 3 "$(big 100)"; recv_burst 3 2; send_burst 3 4
select_ 2  $((SEND | 0)) $BUF  $((SEND | 1)) $BUF
try_select 3  $((SEND | 1)) $BUF  $((SEND | 2)) $BUF  4 $BUF
select_to 1  $((SEND | 2)) $BUF  $T0
close_ 1; send 1; send_burst 1 3; try_select 1  $((SEND | 1)) $BUF
recv 1; recv 1; recv 1; recv 1
release 0; release 1; release 2
write drop

ls "$out" | wc -l | xargs echo "gen_corpus: seeds written to tests/fuzz/$out:"
