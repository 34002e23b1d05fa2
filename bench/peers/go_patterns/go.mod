// SPDX-License-Identifier: MIT

module chanbench/peers/go_patterns

go 1.19
