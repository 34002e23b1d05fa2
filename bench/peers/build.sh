#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/peers/build.sh - builds the peer benchmarks (README.md here) into build/peers/<impl>:
# go, crossbeam, ck_ring, wfcq, moodycamel, mutex, go_patterns (the Go side of
# bench/pattern_bench.c), the pub/sub peers of bench/pubsub_bench.c (go_pubsub,
# tokio_pubsub), go_pool (errgroup, the Go side of bench/pool_bench.c) and go_sched (the Go
# side of bench/sched_bench.c); each a single binary with its release settings. Works offline
# and may be run again at any time. A peer that fails to build is reported (with the tail of
# its log) and does not stop the others.
#
# Usage: bench/peers/build.sh [impl...]   (default: all)
# Exit status: 0 when every requested peer built, 1 when at least one failed.
set -uo pipefail

peers_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$peers_dir/../.." && pwd)
out=$root/build/peers
work=$root/build/peers-work	# compiler caches, cargo's target dir, build logs
mkdir -p "$out" "$work"

CC=${CC:-gcc}
CXX=${CXX:-g++}
cflags=(-O2 -pthread -std=gnu11 -Wall -Wextra)
cxxflags=(-O2 -pthread -std=c++17 -Wall -Wextra)

find_cargo()
{
	command -v cargo 2>/dev/null && return
	for c in "${HOME:-/root}/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
		[ -x "$c" ] && echo "$c" && return
	done
	echo cargo
}

build_go()
{
	cd "$peers_dir/go" &&
		GOCACHE=${GOCACHE:-$work/go-cache} GOPROXY=off GOFLAGS= \
			go build -o "$1" .
}

build_go_patterns()
{
	cd "$peers_dir/go_patterns" &&
		GOCACHE=${GOCACHE:-$work/go-cache} GOPROXY=off GOFLAGS= \
			go build -o "$1" .
}

build_go_pubsub()
{
	cd "$peers_dir/go_pubsub" &&
		GOCACHE=${GOCACHE:-$work/go-cache} GOPROXY=off GOFLAGS= \
			go build -o "$1" .
}

build_go_limiter()
{
	# The Go side of bench/limiter_bench.c: golang.org/x/time/rate and x/sync/semaphore
	# from Debian's sources (golang-golang-x-time-dev, golang-golang-x-sync-dev), which
	# go.mod's replace points at in /usr/share/gocode, so nothing is downloaded.
	cd "$peers_dir/go_limiter" &&
		GOCACHE=${GOCACHE:-$work/go-cache} GOPROXY=off GOFLAGS= \
			go build -o "$1" .
}

build_go_pool()
{
	# golang.org/x/sync (errgroup) from Debian's golang-golang-x-sync-dev: go.mod replaces
	# the module with its directory, so nothing is fetched.
	cd "$peers_dir/go_pool" &&
		GOCACHE=${GOCACHE:-$work/go-cache} GOPROXY=off GOFLAGS= \
			go build -o "$1" .
}

build_go_sched()
{
	# The Go side of bench/sched_bench.c (issue 9): the standard library only.
	cd "$peers_dir/go_sched" &&
		GOCACHE=${GOCACHE:-$work/go-cache} GOPROXY=off GOFLAGS= \
			go build -o "$1" .
}

build_tokio_pubsub()
{
	# As crossbeam: Debian's vendored crates (librust-tokio-dev), offline.
	rm -f "$peers_dir/tokio_pubsub/Cargo.lock"
	cd "$peers_dir/tokio_pubsub" &&
		CARGO_TARGET_DIR=$work/cargo-target "$(find_cargo)" build --release --offline &&
		cp "$work/cargo-target/release/tokio_pubsub" "$1"
}

build_crossbeam()
{
	# .cargo/config.toml in rust/ points crates-io at Debian's vendored crates; cargo reads
	# it from the current directory, hence the cd.
	# Cargo.lock is generated and not kept: a lockfile written by a newer cargo (format
	# v4) is unreadable by Debian 12's cargo, so let whichever cargo builds write its own.
	rm -f "$peers_dir/rust/Cargo.lock"
	cd "$peers_dir/rust" &&
		CARGO_TARGET_DIR=$work/cargo-target "$(find_cargo)" build --release --offline &&
		cp "$work/cargo-target/release/crossbeam" "$1"
}

build_ck_ring()
{
	"$CC" "${cflags[@]}" -o "$1" "$peers_dir/ck_ring/ck_ring.c" -lck
}

build_wfcq()
{
	"$CC" "${cflags[@]}" -o "$1" "$peers_dir/wfcq/wfcq.c" -lurcu-common
}

build_moodycamel()
{
	"$CXX" "${cxxflags[@]}" -o "$1" "$peers_dir/moodycamel/moodycamel.cpp"
}

build_mutex()
{
	"$CC" "${cflags[@]}" -o "$1" "$peers_dir/mutex/mutex.c"
}

all=(go crossbeam ck_ring wfcq moodycamel mutex go_patterns go_pubsub tokio_pubsub go_limiter go_pool go_sched)
want=("$@")
[ ${#want[@]} -eq 0 ] && want=("${all[@]}")

built=()
failed=()
for impl in "${want[@]}"; do
	if ! declare -F "build_$impl" >/dev/null; then
		echo "build.sh: unknown peer '$impl' (known: ${all[*]})" >&2
		failed+=("$impl")
		continue
	fi
	log=$work/$impl.log
	# Build next to the target and rename on success, so that a failed build never leaves
	# a half-written binary; a stale one from an earlier build is removed instead.
	tmp=$out/.$impl.tmp
	rm -f "$tmp"
	if ( "build_$impl" "$tmp" ) >"$log" 2>&1 && [ -x "$tmp" ]; then
		mv -f "$tmp" "$out/$impl"
		built+=("$impl")
	else
		rm -f "$tmp" "$out/$impl"
		failed+=("$impl")
		echo "build.sh: $impl failed to build; last lines of $log:" >&2
		tail -n 15 "$log" | sed 's/^/    /' >&2
	fi
done

echo "peers built:  ${built[*]:-(none)}   -> $out"
echo "peers failed: ${failed[*]:-(none)}"
[ ${#failed[@]} -eq 0 ]
