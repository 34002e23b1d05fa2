// SPDX-License-Identifier: MIT

module chanbench/peers/go

go 1.19
