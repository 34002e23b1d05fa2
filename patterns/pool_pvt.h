/* SPDX-License-Identifier: MIT */
/*
 * patterns/pool_pvt.h - what the tests may see of a worker pool (private:
 * not installed, not exported from libchan.so).
 */
#ifndef CHAN_PATTERNS_POOL_PVT_H
#define CHAN_PATTERNS_POOL_PVT_H

#include <chan/channel.h>
#include <chan/pool.h>

/* The pool's queue (borrowed): a test waits on its waiter counts to see a
 * submitter blocked, rather than sleeping. */
chan_t *chan__pool_queue(chan_pool_t *p);

/* The started workers that have not left yet (a relaxed snapshot). */
unsigned chan__pool_workers(chan_pool_t *p);

#endif /* CHAN_PATTERNS_POOL_PVT_H */
