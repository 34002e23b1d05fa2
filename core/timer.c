/* SPDX-License-Identifier: MIT */
/*
 * core/timer.c - the timer service, and chan_after() and tickers on it.
 *
 * One thread, started on first use, owns a binary min-heap of armed timers
 * (by deadline) and sleeps with FUTEX_WAIT_BITSET until the earliest one, on
 * a word that chan__timer_start() bumps when it arms a new earliest timer.
 * The heap, each timer's heap_index and the "firing" record are guarded by
 * the service lock; callbacks run without it.
 *
 * Invariants:
 *   - a timer is in the heap (heap_index < len) or not (SIZE_MAX), never
 *     both in the heap and firing;
 *   - while a callback runs, svc.firing points to its timer, and
 *     chan__timer_stop() of that timer (from another thread) waits until it
 *     is cleared: so after stop returns, no callback of the timer is running
 *     or will run;
 *   - the service reads a one-shot timer's fields before calling it and
 *     never touches it after, so a one-shot callback may free its timer.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <chan/channel.h>
#include <chan/clock.h>
#include <chan/timer.h>

#include "clock_pvt.h"
#include "debug_pvt.h"
#include "fork_pvt.h"
#include "futex_pvt.h"
#include "lock_pvt.h"
#include "timer_pvt.h"
#include "../ring/fault.h"

static struct {
	struct chan__lock lock;
	struct chan__timer **heap;
	size_t len, cap;
	bool started;
	struct chan__timer *firing; /* the timer whose callback runs now (NULL
				       for one that frees itself) */
	bool running;		    /* a callback runs now */
	bool firing_stopped;	    /* it was stopped during its callback */
	unsigned stop_waiters;	    /* threads waiting for firing to clear */
	_Atomic uint32_t wake;	    /* futex: the earliest deadline changed */
	_Atomic uint32_t fired;	    /* futex: a callback finished */
} svc;

static _Thread_local bool on_timer_thread;

/* ---- the heap (service lock held) --------------------------------------- */

static void heap_set(size_t i, struct chan__timer *t)
{
	svc.heap[i] = t;
	t->heap_index = i;
}

static void sift_up(size_t i)
{
	struct chan__timer *t = svc.heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (svc.heap[parent]->when <= t->when)
			break;
		heap_set(i, svc.heap[parent]);
		i = parent;
	}
	heap_set(i, t);
}

static void sift_down(size_t i)
{
	struct chan__timer *t = svc.heap[i];

	for (;;) {
		size_t l = 2 * i + 1, m = i;
		int64_t best = t->when;

		if (l < svc.len && svc.heap[l]->when < best) {
			m = l;
			best = svc.heap[l]->when;
		}
		if (l + 1 < svc.len && svc.heap[l + 1]->when < best)
			m = l + 1;
		if (m == i)
			break;
		heap_set(i, svc.heap[m]);
		i = m;
	}
	heap_set(i, t);
}

static void heap_remove(struct chan__timer *t)
{
	size_t i = t->heap_index;
	struct chan__timer *last = svc.heap[--svc.len];

	t->heap_index = SIZE_MAX;
	if (last == t)
		return;
	heap_set(i, last);
	sift_up(i);
	sift_down(last->heap_index);
}

/* Insert @t; the caller made sure there is room (len < cap). */
static void heap_insert(struct chan__timer *t)
{
	heap_set(svc.len++, t);
	sift_up(svc.len - 1);
}

/*
 * Arming keeps one slot spare beyond the new timer: the service re-arms a
 * periodic timer only after popping it, so with that spare the re-arm always
 * finds room and a ticker can never stop for lack of memory.
 */
static int heap_reserve_for_one_more(void)
{
	if (svc.len + 2 > svc.cap) {
		size_t cap = svc.cap ? svc.cap * 2 : 64;
		struct chan__timer **h = chan__realloc(svc.heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		svc.heap = h;
		svc.cap = cap;
	}
	return 0;
}

/* ---- the service thread -------------------------------------------------- */

static void kick(_Atomic uint32_t *word)
{
	/* Release: pairs with the acquire load before the sleeper's wait. */
	atomic_fetch_add_explicit(word, 1, memory_order_release);
	chan__futex_wake(word, INT_MAX);
}

static void *service(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* user signals go elsewhere */
	on_timer_thread = true;
	chan__lock_acquire(&svc.lock);
	for (;;) {
		int64_t now = chan_now();

		if (svc.len > 0 && svc.heap[0]->when <= now) {
			struct chan__timer *t = svc.heap[0];
			bool periodic = t->period > 0;
			chan__timer_fn fn = t->fn;
			bool waiters;

			heap_remove(t);
			/* A timer that frees itself in its callback is never
			 * stopped, and its address may be reused at once: do
			 * not leave it in svc.firing for a stranger to match. */
			svc.firing = t->frees_itself ? NULL : t;
			svc.firing_stopped = false;
			svc.running = true;
			chan__lock_release(&svc.lock);
			CHAN__DEBUG_WINDOW("timer: popped, before the callback");
			fn(t, now); /* a one-shot t may be gone after this */
			CHAN__DEBUG_WINDOW("timer: after the callback, before re-arming");
			chan__lock_acquire(&svc.lock);
			if (periodic && !svc.firing_stopped) {
				/* Next tick on the original grid, skipping missed
				 * ones rather than firing them in a burst. */
				t->when += t->period;
				if (t->when <= now)
					t->when += ((now - t->when) / t->period + 1) * t->period;
				/* Room: arming kept a slot spare. */
				CHAN__ASSERT(svc.len < svc.cap);
				heap_insert(t);
			}
			svc.firing = NULL;
			svc.running = false;
			waiters = svc.stop_waiters > 0;
			if (waiters)
				kick(&svc.fired);
			continue;
		}
		int64_t next = svc.len > 0 ? svc.heap[0]->when : CHAN__FOREVER;
		/* Acquire: pairs with kick(); read under the lock, so an arm
		 * that happens after we unlock changes the word we sleep on. */
		uint32_t seen = atomic_load_explicit(&svc.wake, memory_order_acquire);

		chan__lock_release(&svc.lock);
		chan__futex_wait(&svc.wake, seen, next);
		chan__lock_acquire(&svc.lock);
	}
	return NULL;
}

/* Service lock held. */
static int start_service(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	int r;

	if (svc.started)
		return 0;
	chan__fork_register(); /* before the service thread exists */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	r = chan__fault_hit(CHAN__FAULT_THREAD) ? EAGAIN : pthread_create(&tid, &attr, service, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -EAGAIN;
	svc.started = true;
	return 0;
}

/*
 * Wait, with the lock held on entry and on return, until the callback of @t
 * (any callback, for NULL) is not running; at once on the timer thread,
 * which is the one running it.
 */
static void wait_callback_done(const struct chan__timer *t)
{
	while ((t ? svc.firing == t : svc.running) && !on_timer_thread) {
		/* Acquire: pairs with kick() after the callback. */
		uint32_t seen = atomic_load_explicit(&svc.fired, memory_order_acquire);

		svc.stop_waiters++;
		chan__lock_release(&svc.lock);
		chan__futex_wait(&svc.fired, seen, CHAN__FOREVER);
		chan__lock_acquire(&svc.lock);
		svc.stop_waiters--;
	}
}

int chan__timer_start(struct chan__timer *t)
{
	bool earliest;
	int r;

	chan__lock_acquire(&svc.lock);
	r = start_service();
	if (r == 0)
		r = heap_reserve_for_one_more();
	if (r == 0)
		heap_insert(t);
	earliest = r == 0 && t->heap_index == 0;
	chan__lock_release(&svc.lock);
	CHAN__DEBUG_WINDOW("timer: armed, before waking the service");
	if (earliest)
		kick(&svc.wake);
	return r;
}

bool chan__timer_stop(struct chan__timer *t)
{
	bool was_armed = false;

	chan__lock_acquire(&svc.lock);
	if (t->heap_index != SIZE_MAX) {
		heap_remove(t);
		was_armed = true;
	} else if (svc.firing == t) {
		svc.firing_stopped = true;
		wait_callback_done(t);
	}
	chan__lock_release(&svc.lock);
	return was_armed;
}

/* ---- fork() (see core/fork.c) ---------------------------------------- */

void chan__timer_fork_prepare(void)
{
	/* A callback half done in the parent would be half done forever in
	 * the child (a context half canceled): let it finish first, then keep
	 * the heap still while fork() copies it. */
	chan__lock_acquire(&svc.lock);
	wait_callback_done(NULL);
}

void chan__timer_fork_parent(void)
{
	chan__lock_release(&svc.lock);
}

void chan__timer_fork_child(void)
{
	/* Our only thread is the one that forked; the service thread is gone
	 * and no callback runs (prepare waited), but the armed timers came
	 * along and must still fire: start a new service for them now (a
	 * failure leaves started false, and the next chan__timer_start()
	 * tries again). The lock was held by prepare: a fresh one. */
	chan__lock_init(&svc.lock);
	svc.started = false;
	svc.firing = NULL;
	svc.firing_stopped = false;
	svc.running = false;
	svc.stop_waiters = 0;
	on_timer_thread = false;
	if (svc.len > 0) {
		chan__lock_acquire(&svc.lock);
		(void)start_service();
		chan__lock_release(&svc.lock);
	}
}

/* ---- chan_after ------------------------------------------------------------ */

struct after {
	struct chan__timer t; /* first: the callback gets &t */
	chan_t *c;
};

static void deliver(chan_t *c, int64_t now)
{
	/* Capacity 1 and one delivery (after) or drop-if-full (ticker):
	 * never blocks the timer thread. */
	(void)chan_try_send(c, &now);
}

static void after_fire(struct chan__timer *t, int64_t now)
{
	struct after *a = (struct after *)t;

	deliver(a->c, now);
	chan_release(a->c); /* the timer's reference */
	free(a);
}

chan_t *chan_after(int64_t timeout_ns)
{
	chan_t *c = chan_new(sizeof(int64_t), 1);
	struct after *a;
	int r;

	if (!c)
		return NULL;
	if (timeout_ns <= 0) {
		deliver(c, chan_now());
		return c;
	}
	a = chan__malloc(sizeof(*a));
	if (!a) {
		chan_release(c);
		errno = ENOMEM;
		return NULL;
	}
	a->c = chan_retain(c);
	a->t = (struct chan__timer){ .when = chan__deadline(timeout_ns), .fn = after_fire,
				     .heap_index = SIZE_MAX, .frees_itself = true };
	r = chan__timer_start(&a->t);
	if (r != 0) {
		chan_release(c);
		chan_release(c);
		free(a);
		errno = -r;
		return NULL;
	}
	return c;
}

/* ---- tickers ----------------------------------------------------------- */

struct chan_ticker {
	struct chan__timer t; /* first: the callback gets &t */
	chan_t *c;
};

static void ticker_fire(struct chan__timer *t, int64_t now)
{
	deliver(((struct chan_ticker *)t)->c, now);
}

chan_ticker_t *chan_ticker_new(int64_t period_ns)
{
	struct chan_ticker *k;
	int r;

	if (period_ns <= 0) {
		errno = EINVAL;
		return NULL;
	}
	k = chan__malloc(sizeof(*k));
	if (!k) {
		errno = ENOMEM;
		return NULL;
	}
	k->c = chan_new(sizeof(int64_t), 1);
	if (!k->c) {
		free(k);
		return NULL;
	}
	k->t = (struct chan__timer){ .when = chan__deadline(period_ns), .period = period_ns,
				     .fn = ticker_fire, .heap_index = SIZE_MAX };
	r = chan__timer_start(&k->t);
	if (r != 0) {
		chan_release(k->c);
		free(k);
		errno = -r;
		return NULL;
	}
	return k;
}

chan_t *chan_ticker_chan(chan_ticker_t *t)
{
	return t ? t->c : NULL;
}

void chan_ticker_stop(chan_ticker_t *t)
{
	if (!t)
		return;
	chan__timer_stop(&t->t);
	chan_release(t->c);
	free(t);
}
