#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/check_symbols.sh BUILD_DIR - what the libraries export (issue 10, defect 4).
#   libchan.a:  every global symbol it defines starts with chan_ (public) or
#               chan__ (internal), so a static link never collides with user code;
#   libchan.so: it exports exactly the CHAN_API functions of include/chan/*.h,
#               and chan.map lists exactly those.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: check_symbols.sh BUILD_DIR}
fail=0

api=$(grep -ho '^CHAN_API [^(]*(' include/chan/*.h | sed -E 's/\($//; s/.*[ *]//' | sort -u)
map=$(sed -n 's/^[[:space:]]*\(chan_[a-z0-9_]*\);$/\1/p' chan.map | sort -u)
so=$(nm -D --defined-only "$build/libchan.so" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort -u)
bad_a=$(nm -g --defined-only "$build/libchan.a" | awk 'NF == 3 {print $3}' | grep -v '^chan_' || true)

if [ -n "$bad_a" ]; then
	echo "check_symbols: libchan.a defines global symbols without the chan_ prefix:"
	echo "$bad_a"
	fail=1
fi
if [ "$api" != "$map" ]; then
	echo "check_symbols: chan.map and the CHAN_API declarations differ (< headers, > map):"
	diff <(echo "$api") <(echo "$map") || true
	fail=1
fi
if [ "$api" != "$so" ]; then
	echo "check_symbols: libchan.so exports differ from the CHAN_API declarations (< headers, > .so):"
	diff <(echo "$api") <(echo "$so") || true
	fail=1
fi
# libchan_net (built when NNG was found): the same three-way check against
# the CHAN_NET_API functions of include/chan/net.h and net/chan_net.map.
if [ -f "$build/net/libchan_net.so" ]; then
	napi=$(grep -ho '^CHAN_NET_API [^(]*(' include/chan/net.h | sed -E 's/\($//; s/.*[ *]//' | sort -u)
	nmap=$(sed -n 's/^[[:space:]]*\(chan_[a-z0-9_]*\);$/\1/p' net/chan_net.map | sort -u)
	nso=$(nm -D --defined-only "$build/net/libchan_net.so" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort -u)
	nbad_a=$(nm -g --defined-only "$build/net/libchan_net.a" | awk 'NF == 3 {print $3}' | grep -v '^chan_' || true)
	if [ -n "$nbad_a" ]; then
		echo "check_symbols: libchan_net.a defines global symbols without the chan_ prefix:"
		echo "$nbad_a"
		fail=1
	fi
	if [ "$napi" != "$nmap" ] || [ "$napi" != "$nso" ]; then
		echo "check_symbols: libchan_net: net.h, chan_net.map and the .so differ:"
		diff <(echo "$napi") <(echo "$nmap") || true
		diff <(echo "$napi") <(echo "$nso") || true
		fail=1
	fi
	[ $fail -eq 0 ] && echo "check_symbols: libchan_net ok ($(echo "$napi" | wc -l) public functions)"
fi
[ $fail -eq 0 ] && echo "check_symbols: ok ($(echo "$api" | wc -l) public functions; libchan.a has only chan_ symbols)"
exit $fail
