#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/install/install_test.sh <build-dir> - install chan into a scratch prefix
# and build a consumer there three ways: CMake find_package(chan) -> chan::chan,
# pkg-config (shared), pkg-config --static. Each consumer must run and pass.
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$here" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name 'libchan.so' | head -n1)")
LD_LIBRARY_PATH=$libdir "$tmp/cmake/consumer"
echo "find_package(chan): ok"

pcdir=$(dirname "$(find "$tmp/prefix" -name chan.pc | head -n1)")
export PKG_CONFIG_PATH=$pcdir
cc "$here/consumer.c" $(pkg-config --cflags --libs chan) -o "$tmp/pc-shared"
LD_LIBRARY_PATH=$libdir "$tmp/pc-shared"
echo "pkg-config chan: ok"
cc -static "$here/consumer.c" $(pkg-config --static --cflags --libs chan) -o "$tmp/pc-static"
"$tmp/pc-static"
echo "pkg-config --static chan: ok"
