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
 *
 * Goroutines (w->fiber set) do not spin and do not sleep on the futex: they
 * switch out (chan__sched_park()) and a waker makes them runnable
 * (chan__sched_ready()). The futex word is the same state word:
 *   park    the fiber switches out (to its worker's own stack, or straight
 *           to the next fiber of that worker), and only there, with its
 *           context saved, commits IDLE -> SLEEPING (CAS). If the CAS fails
 *           (NOTIFIED or TIMEDOUT came first) it is runnable again at once.
 *   unpark  exchange -> NOTIFIED; only if the old value was SLEEPING it
 *           readies the fiber. So a fiber is readied only once it has fully
 *           switched out (no worker can resume a half-saved context), and
 *           exactly once per committed park: the one RMW that moves the word
 *           off SLEEPING readies it (unpark, or the timer below).
 *   timeout a timer (core/timer.c) fires at the deadline and moves IDLE or
 *           SLEEPING to TIMEDOUT (readying the fiber if it was SLEEPING;
 *           from IDLE the commit's CAS fails and the fiber resumes itself).
 *           The resumed fiber stops the timer first (chan__timer_stop()
 *           waits for a running callback), so the callback never touches a
 *           waiter that is gone; then NOTIFIED means woken (even if the
 *           timer fired too: the claim won) and TIMEDOUT, moved back to
 *           IDLE by a CAS that an unpark can beat, means timed out.
 * No wakeup is lost: every unpark and every timeout is one RMW on the
 * word; the commit is an RMW on the same word, so each of them either comes
 * before it (the commit fails, the fiber resumes) or after it (sees
 * SLEEPING, readies).
 */
#include <errno.h>
#include <sched.h>

#include <chan/clock.h>

#include "clock_pvt.h"
#include "dlist_pvt.h"
#include "futex_pvt.h"
#include "park_pvt.h"
#include "timer_pvt.h"
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

/* ---- goroutines --------------------------------------------------------- */

struct fiber_timer {
	struct chan__timer t;
	struct chan__waiter *w;
};

static bool fiber_commit(void *arg)
{
	struct chan__waiter *w = arg;
	uint32_t v = PARK_IDLE;

	/* Runs after the switch, the fiber's context saved. Release:
	 * publishes that context to whoever readies it after reading
	 * SLEEPING (acq_rel exchange in chan__unpark(), CAS in the timer).
	 * Acquire on failure: pairs with their release. */
	return atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_SLEEPING,
						       memory_order_acq_rel, memory_order_acquire);
}

static void fiber_timeout(struct chan__timer *t, int64_t now)
{
	struct fiber_timer *ft = chan__container_of(t, struct fiber_timer, t);
	struct chan__waiter *w = ft->w;
	struct chan__fiber *f = w->fiber;
	/* Relaxed: the CAS below decides. */
	uint32_t v = atomic_load_explicit(&w->futex, memory_order_relaxed);

	(void)now;
	while (v == PARK_IDLE || v == PARK_SLEEPING) {
		/* Acq_rel: acquires the fiber's saved context (commit's
		 * release) before readying it; releases nothing else. */
		if (atomic_compare_exchange_weak_explicit(&w->futex, &v, PARK_TIMEDOUT,
							  memory_order_acq_rel,
							  memory_order_relaxed)) {
			if (v == PARK_SLEEPING)
				chan__sched_ready(f);
			return;
		}
	}
}

/* No timer could start (out of memory): sleep the worker thread instead. */
static int fiber_park_os(struct chan__waiter *w, int64_t deadline)
{
	uint32_t v = PARK_IDLE;

	/* Acquire on failure: NOTIFIED, pairs with chan__unpark(). */
	if (!atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_SLEEPING_OS,
						     memory_order_acquire, memory_order_acquire))
		goto notified;
	for (;;) {
		chan__futex_wait(&w->futex, PARK_SLEEPING_OS, deadline);
		/* Acquire: pairs with the release exchange in chan__unpark(). */
		if (atomic_load_explicit(&w->futex, memory_order_acquire) == PARK_NOTIFIED)
			break;
		if (chan_now() >= deadline) {
			v = PARK_SLEEPING_OS;
			if (atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_IDLE,
								    memory_order_acquire,
								    memory_order_acquire))
				return -ETIMEDOUT;
			break;
		}
	}
notified:
	atomic_store_explicit(&w->futex, PARK_IDLE, memory_order_relaxed);
	return 0;
}

static int fiber_park(struct chan__waiter *w, int64_t deadline)
{
	struct fiber_timer ft;
	uint32_t v;

	if (deadline != CHAN__FOREVER) {
		if (chan_now() >= deadline) {
			v = PARK_IDLE;
			/* Acquire on failure: NOTIFIED, pairs with chan__unpark(). */
			if (atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_IDLE,
								    memory_order_acquire,
								    memory_order_acquire))
				return -ETIMEDOUT;
			goto notified;
		}
		ft.t.when = deadline;
		ft.t.period = 0;
		ft.t.fn = fiber_timeout;
		ft.t.frees_itself = false;
		ft.w = w;
		if (chan__timer_start(&ft.t) < 0)
			return fiber_park_os(w, deadline);
	}
	chan__sched_park(fiber_commit, w);
	if (deadline != CHAN__FOREVER)
		chan__timer_stop(&ft.t);
	/* Acquire: pairs with the release of whoever moved the word. */
	v = atomic_load_explicit(&w->futex, memory_order_acquire);
	if (v == PARK_TIMEDOUT &&
	    atomic_compare_exchange_strong_explicit(&w->futex, &v, PARK_IDLE, memory_order_acquire,
						    memory_order_acquire))
		return -ETIMEDOUT;
notified:
	/* Relaxed: as at the end of chan__park_wait(). */
	atomic_store_explicit(&w->futex, PARK_IDLE, memory_order_relaxed);
	return 0;
}

/* ---- threads ------------------------------------------------------------ */

void chan__wait_begin(struct chan__wait *wt)
{
	if (chan__sched_self()) {
		/* A goroutine does not spin: its worker has others to run. */
		wt->budget = 0;
		wt->start = 0;
		wt->cpu = -1;
		wt->spun = true;
		return;
	}
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

	if (w->fiber)
		return fiber_park(w, deadline);

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
	struct chan__fiber *f = w->fiber; /* read before the exchange lets w go */
	uint32_t old;

	if (f) {
		/* Acq_rel: release as below; acquire pairs with the commit's
		 * release, so the fiber's saved context is ours to hand on. */
		old = atomic_exchange_explicit(&w->futex, PARK_NOTIFIED, memory_order_acq_rel);
		if (old == PARK_SLEEPING)
			chan__sched_ready(f);
		else if (old == PARK_SLEEPING_OS)
			chan__futex_wake(&w->futex, 1);
		return;
	}
	w->waker_cpu = sched_getcpu(); /* ordered by the exchange below */
	if (atomic_exchange_explicit(&w->futex, PARK_NOTIFIED, memory_order_release) ==
	    PARK_SLEEPING)
		chan__futex_wake(&w->futex, 1);
}
