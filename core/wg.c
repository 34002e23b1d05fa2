/* SPDX-License-Identifier: MIT */
/*
 * core/wg.c - wait groups.
 *
 * Two words. @state holds the counter in its high half and the number of
 * sleeping waiters in its low half; @futex is a generation number that only
 * the change bringing the counter to zero advances, and sleepers sleep on
 * it (a futex needs a 32-bit word of its own: one half of a 64-bit atomic is
 * not an object C11 or ThreadSanitizer knows about).
 *
 *   waiter  s = state (acquire); counter 0: return. g = futex (acquire);
 *           count itself with a CAS s -> s + 1 on state (acq_rel; on failure
 *           start over); sleep until futex != g; then uncount itself.
 *   zeroer  one CAS takes the counter to zero and leaves the sleepers
 *           counted; if there are any: futex++ (release), futex_wake.
 *   add     from zero while sleepers are still counted: the previous round's
 *           waiters have not all returned, the wait group is being reused
 *           too early (Go panics; we abort).
 *
 * No lost wakeup, no early return: a successful CAS means state did not
 * change between the load of s and the CAS (a zeroing with sleepers cannot
 * be undone without the abort above, so there is no ABA), and g was read in
 * between: g is this round's generation, and the zeroer of this round
 * increments it after its CAS, which follows ours. So futex_wait either sees
 * the new value or is woken by the wake that follows it.
 * Lifetime: a counted waiter returns only after the increment, the
 * zeroer's last write (futex_wake touches no memory of ours), and after its
 * own uncounting; so the wait group may go out of scope once every
 * chan_wg_wait() has returned.
 */
#include <limits.h>
#include <stdbool.h>

#include <chan/task.h>

#include "clock_pvt.h"
#include "debug_pvt.h"
#include "addrwait_pvt.h"
#include "futex_pvt.h"

_Static_assert(sizeof(chan_wg_t) == 16, "chan_wg_t: a 64-bit state and a 32-bit futex word");

#define SLEEPERS(s) ((uint32_t)((s)&0xffffffffu))
#define COUNTER(s)  ((int64_t)((s) >> 32))

void chan_wg_init(chan_wg_t *wg)
{
	atomic_init(&wg->state, 0);
	atomic_init(&wg->futex, 0);
}

void chan_wg_add(chan_wg_t *wg, int n)
{
	/* Relaxed: a first guess; the CAS validates it. */
	uint64_t s = atomic_load_explicit(&wg->state, memory_order_relaxed), ns;
	int64_t count;

	do {
		count = COUNTER(s) + n;
		if (count < 0)
			CHAN__DIE("chan_wg_add: negative wait group counter (more done than add)");
		if (count > INT32_MAX)
			CHAN__DIE("chan_wg_add: wait group counter overflow");
		if (COUNTER(s) == 0 && n > 0 && SLEEPERS(s) != 0)
			CHAN__DIE("chan_wg: reused (chan_wg_add) before every chan_wg_wait returned");
		ns = ((uint64_t)count << 32) | SLEEPERS(s);
		/* Release: the work before done() happens-before the waiters'
		 * acquire of the zero. Acquire: reads the sleepers' CASes. */
	} while (!atomic_compare_exchange_weak_explicit(&wg->state, &s, ns, memory_order_acq_rel,
							memory_order_relaxed));
	if (count == 0 && n != 0 && SLEEPERS(s)) {
		/* Release: pairs with the sleepers' acquire loads of futex.
		 * Seq_cst: chan__addr_wake_all()'s contract (W1 of its proof). */
		atomic_fetch_add_explicit(&wg->futex, 1, memory_order_seq_cst);
		chan__addr_wake_all(&wg->futex);
	}
}

void chan_wg_done(chan_wg_t *wg)
{
	chan_wg_add(wg, -1);
}

void chan_wg_wait(chan_wg_t *wg)
{
	uint32_t g;

	for (;;) {
		/* Acquire: pairs with the release CAS that reached zero. */
		uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);

		if (COUNTER(s) == 0)
			return;
		/* Acquire: pairs with the zeroer's release increment. Between
		 * the load of s and the CAS: see the proof above. */
		g = atomic_load_explicit(&wg->futex, memory_order_acquire);
		/* Acq_rel: the zeroer's CAS reads ours, so it counts us. */
		if (atomic_compare_exchange_weak_explicit(&wg->state, &s, s + 1,
							  memory_order_acq_rel,
							  memory_order_relaxed))
			break;
	}
	/* Counted: only the increment of futex lets us go. */
	while (atomic_load_explicit(&wg->futex, memory_order_acquire) == g)
		chan__addr_wait(&wg->futex, g); /* a goroutine parks its fiber */
	/* Uncount ourselves (the counter is zero until we all have: an add
	 * before that aborts). Relaxed: nobody acquires the sleeper count;
	 * the add that checks it reads it through its own CAS. */
	atomic_fetch_sub_explicit(&wg->state, 1, memory_order_relaxed);
}
