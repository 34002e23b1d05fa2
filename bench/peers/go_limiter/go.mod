// SPDX-License-Identifier: MIT

module chanbench/peers/go_limiter

go 1.19

require (
	golang.org/x/sync v0.1.0
	golang.org/x/time v0.3.0
)

// Debian's golang-golang-x-time-dev and golang-golang-x-sync-dev (scripts/setup.sh bench):
// built offline, from the packaged sources.
replace (
	golang.org/x/sync => /usr/share/gocode/src/golang.org/x/sync
	golang.org/x/time => /usr/share/gocode/src/golang.org/x/time
)
