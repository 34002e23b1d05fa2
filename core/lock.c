/* SPDX-License-Identifier: MIT */
/* core/lock.c - the contended half of the wait-queue mutex (see lock_pvt.h). */
#include "lock_pvt.h"

#define LOCK_SPINS 64

void chan__lock_slow(struct chan__lock *l)
{
	/* Spin a little: holders only run a few list operations. */
	for (int i = 0; i < LOCK_SPINS; i++) {
		uint32_t free_word = 0;

		/* Relaxed peek, then L1. */
		if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->word, &free_word, 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		chan__cpu_relax();
	}
	/*
	 * L1: mark contended and sleep until we are the one who turns 0 into 2.
	 * Taking it as 2 (not 1) is conservative: our unlock may wake one
	 * thread needlessly, but never leaves a sleeper behind.
	 */
	while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
		chan__futex_wait(&l->word, 2, CHAN__FOREVER);
}
