#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/setup.sh [test|bench] - install what the build needs, from Debian's
# packages, when it is missing. Idempotent; needs root (or sudo) only when
# something has to be installed.
set -euo pipefail

profile=${1:-test}
# libclang-rt-14-dev: libFuzzer and the sanitizer runtimes for clang 14.
# libnng-dev: NNG, for libchan_net (net/, CMake option CHAN_NET) and its tests;
# openssl: the net tests make their TLS certificates with it.
pkgs=(cmake make gcc clang libclang-rt-14-dev pkg-config libcriterion-dev liburcu-dev libck-dev spin libnng-dev
      openssl)
# The aarch64 context switch's test (tests/arch/run_aarch64.sh): a static
# cross build run under qemu-user.
pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
if [ "$profile" = bench ]; then
	pkgs+=(g++ golang-go cargo rustc librust-crossbeam-channel-dev librust-tokio-dev
	       libconcurrentqueue-dev gnuplot-nox hyperfine linux-perf valgrind
	       python3 util-linux)
	# x/time/rate and x/sync/semaphore for bench/peers/go_limiter; x/sync's
	# errgroup for bench/peers/go_pool.
	pkgs+=(golang-golang-x-time-dev golang-golang-x-sync-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
