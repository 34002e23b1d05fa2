#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf/fuzz_cov.sh [corpus-dir ...] - source coverage of the library reached
# by a fuzz corpus: replays it (tests/fuzz/replay.c) in a clang build with
# -fprofile-instr-generate -fcoverage-mapping and prints llvm-cov's report
# for the channel, select and ring code. Default corpus: results/fuzz/corpus
# (perf/fuzz_long.sh's) if it exists, else the seeds in tests/fuzz/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
	dirs=(tests/fuzz/corpus)
	[ -d results/fuzz/corpus ] && dirs=(results/fuzz/corpus)
fi
b=build/fuzz-cov
flags="-fprofile-instr-generate -fcoverage-mapping"
cmake -S . -B "$b" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCHAN_BENCH=OFF \
	-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$b" -j "$(nproc)" --target chan_fuzz_replay >/dev/null
rm -f "$b"/fuzz-*.profraw
LLVM_PROFILE_FILE="$b/fuzz-%p.profraw" "$b/tests/fuzz/chan_fuzz_replay" "${dirs[@]}"
llvm-profdata merge -sparse -o "$b/fuzz.profdata" "$b"/fuzz-*.profraw
llvm-cov report "$b/tests/fuzz/chan_fuzz_replay" -instr-profile="$b/fuzz.profdata" \
	core/chan.c core/select.c core/park.c core/waitq.c ring/ring.c ring/list.c \
	ring/ring.h ring/mpmc.h ring/mpsc.h ring/spmc.h ring/spsc.h tests/fuzz/chan_fuzz.c
