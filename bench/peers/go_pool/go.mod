// SPDX-License-Identifier: MIT

module chanbench/peers/go_pool

go 1.19

require golang.org/x/sync v0.1.0

// Debian's golang-golang-x-sync-dev, so that the build needs no network (build.sh).
replace golang.org/x/sync => /usr/share/gocode/src/golang.org/x/sync
