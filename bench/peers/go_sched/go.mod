// SPDX-License-Identifier: MIT

module chanbench/peers/go_sched

go 1.19
