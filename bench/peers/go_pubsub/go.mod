// SPDX-License-Identifier: MIT

module chanbench/peers/go_pubsub

go 1.19
