/* SPDX-License-Identifier: MIT */
/*
 * core/lock_pvt.h - a small futex mutex for the wait queues (private).
 *
 * Drepper's three-state mutex ("Futexes Are Tricky", mutex #3): 0 free,
 * 1 locked, 2 locked and maybe contended. The uncontended lock and unlock
 * are one RMW each and no system call. It guards short list operations
 * only, never a wait, so a brief spin before sleeping usually wins.
 *
 * L1  lock CAS/exchange (acquire): pairs with U1 of the previous owner.
 * U1  unlock exchange (release): publishes the critical section.
 */
#ifndef CHAN_CORE_LOCK_PVT_H
#define CHAN_CORE_LOCK_PVT_H

#include <stdatomic.h>
#include <stdint.h>

#include "futex_pvt.h"
#include "../ring/compiler.h"

struct chan__lock {
	_Atomic uint32_t word;
};

void chan__lock_slow(struct chan__lock *l);

static inline void chan__lock_init(struct chan__lock *l)
{
	atomic_init(&l->word, 0);
}

static inline void chan__lock_acquire(struct chan__lock *l)
{
	uint32_t free_word = 0;

	/* L1 */
	if (chan__likely(atomic_compare_exchange_strong_explicit(
		    &l->word, &free_word, 1, memory_order_acquire, memory_order_relaxed)))
		return;
	chan__lock_slow(l);
}

static inline void chan__lock_release(struct chan__lock *l)
{
	/* U1: pairs with L1. A 2 means someone may sleep: wake one. */
	if (chan__unlikely(atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2))
		chan__futex_wake(&l->word, 1);
}

#endif /* CHAN_CORE_LOCK_PVT_H */
