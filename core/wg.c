/* SPDX-License-Identifier: MIT */
/*
 * core/wg.c - wait groups.
 *
 * One 64-bit word: the counter in the high half, the number of sleeping
 * waiters in the low half. Waiters sleep on the counter half with a futex.
 * The change that brings the counter to zero also zeroes the sleepers in the
 * same CAS, and is the last write to the wait group: after it, the waker only
 * issues futex_wake (which never touches the memory), so a waiter may return
 * and let the wait group go out of scope at once.
 */
#include <limits.h>
#include <stdbool.h>

#include <chan/task.h>

#include "clock_pvt.h"
#include "debug_pvt.h"
#include "futex_pvt.h"

_Static_assert(sizeof(chan_wg_t) == 8, "chan_wg_t is one 64-bit word");

static _Atomic uint32_t *counter_half(chan_wg_t *wg)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (_Atomic uint32_t *)((char *)&wg->state + 4);
#else
	return (_Atomic uint32_t *)&wg->state;
#endif
}

void chan_wg_init(chan_wg_t *wg)
{
	atomic_init(&wg->state, 0);
}

void chan_wg_add(chan_wg_t *wg, int n)
{
	/* Relaxed: a first guess; the CAS validates it. */
	uint64_t s = atomic_load_explicit(&wg->state, memory_order_relaxed), ns;
	int64_t count;

	do {
		count = (int64_t)(s >> 32) + n;
		if (count < 0)
			CHAN__DIE("chan_wg_add: negative wait group counter (more done than add)");
		if (count > INT32_MAX)
			CHAN__DIE("chan_wg_add: wait group counter overflow");
		ns = count == 0 ? 0 : ((uint64_t)count << 32) | (s & 0xffffffffu);
		/* Release: the work before done() happens-before the waiters'
		 * acquire of the zero. Acquire: orders us after earlier adds. */
	} while (!atomic_compare_exchange_weak_explicit(&wg->state, &s, ns, memory_order_acq_rel,
							memory_order_relaxed));
	if (count == 0 && (s & 0xffffffffu))
		chan__futex_wake(counter_half(wg), INT_MAX);
}

void chan_wg_done(chan_wg_t *wg)
{
	chan_wg_add(wg, -1);
}

void chan_wg_wait(chan_wg_t *wg)
{
	/* Acquire: pairs with the release CAS that reached zero. */
	uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
	bool counted = false;

	while ((s >> 32) != 0) {
		if (!counted) {
			/* Count ourselves as a sleeper, so the zeroing add wakes us. */
			if (!atomic_compare_exchange_weak_explicit(&wg->state, &s, s + 1,
								   memory_order_acquire,
								   memory_order_acquire))
				continue;
			counted = true;
		}
		/* Sleeps while the counter half still holds this value; any
		 * change before we sleep returns at once. */
		chan__futex_wait(counter_half(wg), (uint32_t)(s >> 32), CHAN__FOREVER);
		s = atomic_load_explicit(&wg->state, memory_order_acquire);
		/* Counted, yet no sleeper is counted while the counter is
		 * non-zero: it went to zero (zeroing the sleepers), and a new
		 * add came before we returned. Go panics here too. */
		if ((s >> 32) != 0 && (s & 0xffffffffu) == 0)
			CHAN__DIE("chan_wg: reused (chan_wg_add) before every chan_wg_wait returned");
	}
}
