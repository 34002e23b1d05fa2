/* SPDX-License-Identifier: MIT */
/*
 * core/park.c - parking on a futex, with adaptive spinning.
 *
 * Invariant: a waiter's futex word is PARK_IDLE whenever no wait is in
 * progress; each claim is followed by exactly one unpark, and chan__park()
 * consumes it (NOTIFIED -> IDLE) before returning 0.
 *
 * Spinning. A wake that finds the waiter still spinning costs one exchange;
 * one that finds it asleep costs a futex_wake and a context switch on each
 * side (about 12-15 us of wake-up latency on the KVM machines we measure on).
 * So a waiter spins first, for a per-thread budget learned from its own
 * recent waits:
 *   - notified while spinning: the budget was right; let it grow a little;
 *   - woken from sleep after a total wait T below SPIN_MAX_NS: spinning a
 *     little longer than T would have avoided two context switches, so the
 *     budget moves up to cover T;
 *   - woken after a longer wait: spinning would not have helped: halve it;
 *   - woken by a thread that ran on the very CPU we were waiting on: our
 *     spinning would only have kept it from running (both pinned to one
 *     CPU, or put there by the scheduler): cut the budget to a quarter, so
 *     it reaches zero within a few waits. This rule comes first: without
 *     it a pinned pair would keep learning "a little longer would do".
 * The rules apply with a zero budget too, so two threads that fell into
 * sleeping on each other (each one's wake-up latency defeating the other's
 * spin) learn their way back out as soon as one sees a short wait.
 * A budget of zero still probes with a short spin every PROBE_EVERY waits,
 * so a thread whose situation changed can find out. Over-subscribed threads
 * (8 on 2 cores) see long waits and stop spinning; a pinned ping-pong stops
 * at once. A thread with a zero budget yields once before it sleeps (see
 * chan__park()); there are no sched_yield loops here.
 *
 * The same budget drives chan__wait_spin(), where a buffered-channel waiter
 * polls the ring before it queues; a wait that began with such a poll does
 * not spin again on its futex word, and learns from its whole length.
 */
#include <errno.h>
#include <sched.h>

#include <chan/clock.h>

#include "futex_pvt.h"
#include "park_pvt.h"
#include "../ring/compiler.h"

#define SPIN_START_NS	 10000
#define SPIN_MAX_NS	 50000
#define SPIN_PROBE_NS	 1000
#define PROBE_EVERY	 32
#define SPIN_CHECK_EVERY 8 /* pause instructions between clock reads */

struct spin_state {
	int32_t budget_ns; /* -1 before the first wait */
	uint32_t waits;	   /* waits with a zero budget, for probing */
};

static _Thread_local struct spin_state spin = { .budget_ns = -1 };

static int32_t spin_budget(void)
{
	if (chan__unlikely(spin.budget_ns < 0))
		spin.budget_ns = SPIN_START_NS;
	if (spin.budget_ns == 0 && ++spin.waits % PROBE_EVERY == 0)
		return SPIN_PROBE_NS;
	return spin.budget_ns;
}

static void spin_learn(int32_t b)
{
	spin.budget_ns = b < 0 ? 0 : (b > SPIN_MAX_NS ? SPIN_MAX_NS : b);
}

/* Spin until notified or @until. True if notified. */
static bool spin_until_notified(struct chan__waiter *w, int64_t until)
{
	for (;;) {
		for (int i = 0; i < SPIN_CHECK_EVERY; i++) {
			/* Acquire: pairs with the release exchange in chan__unpark(). */
			if (atomic_load_explicit(&w->futex, memory_order_acquire) == PARK_NOTIFIED)
				return true;
			chan__cpu_relax();
		}
		if (chan_now() >= until)
			return false;
	}
}

void chan__wait_begin(struct chan__wait *wt)
{
	wt->budget = spin_budget();
	wt->start = chan_now();
	wt->cpu = sched_getcpu(); /* glibc reads it from rseq: no system call */
	wt->spun = false;
}

static int64_t spin_end(const struct chan__wait *wt, int64_t deadline)
{
	/* Never spin past the deadline: a timeout is late enough. */
	return wt->start + wt->budget < deadline ? wt->start + wt->budget : deadline;
}

static void learn_spin_success(void)
{
	/* From a probe (budget 0) start over at twice the probe. */
	spin_learn(spin.budget_ns ? spin.budget_ns + spin.budget_ns / 4 : 2 * SPIN_PROBE_NS);
}

bool chan__wait_spin(struct chan__wait *wt, bool (*ready)(void *), void *arg, int64_t deadline)
{
	int64_t until;

	if (wt->budget <= 0)
		return false;
	wt->spun = true;
	until = spin_end(wt, deadline);
	for (;;) {
		for (int i = 0; i < SPIN_CHECK_EVERY; i++) {
			if (ready(arg)) {
				learn_spin_success();
				return true;
			}
			chan__cpu_relax();
		}
		if (chan_now() >= until)
			return false;
	}
}

int chan__park(struct chan__waiter *w, int64_t deadline)
{
	struct chan__wait wt;

	chan__wait_begin(&wt);
	return chan__park_wait(w, &wt, deadline);
}

int chan__park_wait(struct chan__waiter *w, struct chan__wait *wt, int64_t deadline)
{
	int32_t budget = wt->budget;
	int64_t start = wt->start;
	int cpu = wt->cpu;
	uint32_t v = PARK_IDLE;

	if (budget > 0 && !wt->spun) {
		if (spin_until_notified(w, spin_end(wt, deadline))) {
			learn_spin_success();
			goto notified;
		}
	}
	if (budget == 0) {
		/* Spinning does not pay: our waker is likely queued on this
		 * very CPU. One yield lets it run now, and if it completes us
		 * we skip the futex round trip (measured: pinned ping-pong
		 * 2.6 us instead of 6.1 us per round trip). One per wait: no
		 * yield loop. */
		sched_yield();
		/* Acquire: pairs with the release exchange in chan__unpark(). */
		if (atomic_load_explicit(&w->futex, memory_order_acquire) == PARK_NOTIFIED)
			goto notified;
	}
	if (deadline != CHAN__FOREVER && chan_now() >= deadline) {
		/* Due already: no futex round trip (the kernel adds its timer
		 * slack to any timed sleep). Acquire on failure: NOTIFIED. */
		if (atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_IDLE,
							    memory_order_acquire,
							    memory_order_acquire))
			return -ETIMEDOUT;
		goto notified;
	}
	/* Acquire on failure: the value is NOTIFIED; pairs with chan__unpark(). */
	if (!atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_SLEEPING,
						     memory_order_acquire, memory_order_acquire))
		goto notified;
	for (;;) {
		int r = chan__futex_wait(&w->futex, PARK_SLEEPING, deadline);

		/* Acquire: pairs with the release exchange in chan__unpark(). */
		if (atomic_load_explicit(&w->futex, memory_order_acquire) == PARK_NOTIFIED)
			break;
		/* Spurious, EINTR, or a timeout: only the clock decides, so an
		 * early kernel return can never make us time out early. */
		if (r == -ETIMEDOUT || (deadline != CHAN__FOREVER && r != 0)) {
			if (chan_now() < deadline)
				continue;
			v = PARK_SLEEPING;
			/* Acquire on both outcomes: on failure the word is
			 * NOTIFIED and pairs with chan__unpark(). */
			if (atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_IDLE,
								    memory_order_acquire,
								    memory_order_acquire))
				return -ETIMEDOUT;
			break; /* the unpark raced the timeout and won */
		}
	}
	/* Woken from sleep: learn whether spinning longer would have helped. */
	if (cpu >= 0 && w->waker_cpu == cpu) {
		spin_learn(spin.budget_ns / 4);
	} else {
		int64_t waited = chan_now() - start;

		if (waited < SPIN_MAX_NS) {
			int32_t want = (int32_t)(waited + waited / 4);

			spin_learn(want > spin.budget_ns ? want : spin.budget_ns);
		} else {
			spin_learn(spin.budget_ns / 2);
		}
	}
notified:
	/* Relaxed: only this thread touches the word until the next claim,
	 * which is ordered after our next enqueue by the queue lock. */
	atomic_store_explicit(&w->futex, PARK_IDLE, memory_order_relaxed);
	return 0;
}

int chan__park_withdraw(struct chan__waiter *w, struct chan__wait *wt, int64_t deadline)
{
	int r = wt ? chan__park_wait(w, wt, deadline) : chan__park(w, deadline);

	if (r == 0)
		return 0;
	if (chan__waiter_abort(w))
		return -ETIMEDOUT;
	/* Claimed as the deadline passed: the claimer's unpark follows. */
	chan__park(w, CHAN__FOREVER);
	return 0;
}

void chan__unpark(struct chan__waiter *w)
{
	/* Release: everything the waker wrote to the entry is visible to the
	 * waiter's acquire load of NOTIFIED. The exchange is our last access
	 * to *w unless the waiter was asleep; futex_wake on an address whose
	 * owner has already returned is harmless (a spurious wake at most). */
	w->waker_cpu = sched_getcpu(); /* ordered by the exchange below */
	if (atomic_exchange_explicit(&w->futex, PARK_NOTIFIED, memory_order_release) ==
	    PARK_SLEEPING)
		chan__futex_wake(&w->futex, 1);
}
