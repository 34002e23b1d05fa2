/* SPDX-License-Identifier: MIT */
/*
 * patterns/sem.c - the weighted semaphore of chan/sem.h.
 *
 * golang.org/x/sync/semaphore's algorithm (a FIFO of waiters; a release, or
 * a canceled head, grants from the head while the head fits; nobody takes
 * units while anyone waits), with the no-waiter case moved out of the mutex
 * into one word, so that an uncontended acquire or release is one RMW.
 *
 * Invariants:
 *  - I1: state = WAITERS | cur, cur = units held (<= size). WAITERS is set
 *    iff the queue is non-empty; both change only under s->lock.
 *  - I2: cur grows only by a CAS from a word without WAITERS (fast path, or
 *    the slow path with an empty queue), or by a grant to the head under
 *    s->lock. So while anyone waits nobody overtakes the queue (no barging).
 *  - I3: a waiter's record lives on its stack; it is linked in the queue, and
 *    the queue holds a reference to its `ready` channel, until a grant or its
 *    own cancellation unlinks it (both under s->lock).
 *
 * No lost wakeup: a waiter queues itself and sets WAITERS with a CAS, then
 * grants from the head (it may be the head) before it sleeps, all under the
 * lock. A release's fetch_sub either precedes that CAS in the word's
 * modification order (the CAS, and the grant after it, see the freed units)
 * or follows it (it sees WAITERS and grants under the lock, after the waiter
 * has queued). A canceled head that leaves free units behind grants to the
 * new head. A grant is a send on the waiter's capacity-1 channel, which it
 * selects on together with its context's done channel: a grant sent before
 * the waiter sleeps is received at once, a spurious wakeup cannot happen
 * (only the grant or a closed done channel fire), and a cancel that races a
 * grant is settled under the lock by `granted` (the units go back).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/channel.h>
#include <chan/ctx.h>
#include <chan/select.h>
#include <chan/sem.h>

#include "sem_pvt.h"

#define WAITERS (UINT64_C(1) << 63)
#define CUR(w)	((int64_t)((w) & ~WAITERS))

struct sem_waiter {
	int64_t n;
	bool granted; /* under s->lock */
	chan_t *ready;
	struct sem_waiter *prev, *next;
};

struct chan_sem {
	_Atomic uint64_t state; /* I1 */
	int64_t size;
	pthread_mutex_t lock;
	struct sem_waiter *head, *tail; /* under lock */
	size_t nwaiters;		/* under lock */
};

static _Noreturn void sem_die(const char *file, int line, const char *what)
{
	/* The format of the library's other misuse aborts (chan__die). */
	fprintf(stderr, "chan: %s:%d: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

#define SEM_DIE(what) sem_die(__FILE__, __LINE__, (what))

chan_sem_t *chan_sem_new(int64_t size)
{
	chan_sem_t *s;

	if (size <= 0) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&s->state, 0);
	s->size = size;
	return s;
}

void chan_sem_destroy(chan_sem_t *s)
{
	if (!s)
		return;
	if (s->head)
		SEM_DIE("chan_sem_destroy: waiters still queued");
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The lock-free part of acquire: 0, or -EAGAIN (someone waits, or no room). */
static int try_fast(chan_sem_t *s, int64_t n)
{
	/* Relaxed: only a starting value for the CAS. */
	uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);

	while (!(w & WAITERS) && s->size - CUR(w) >= n) {
		/* A1: pairs with R1 in chan_sem_release(): what the releaser
		 * did before freeing the units happens-before our return. */
		if (atomic_compare_exchange_weak_explicit(&s->state, &w, w + (uint64_t)n,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 0;
	}
	return -EAGAIN;
}

int chan_sem_try_acquire(chan_sem_t *s, int64_t n)
{
	if (!s || n <= 0 || n > s->size)
		return -EINVAL;
	return try_fast(s, n);
}

static void unlink_waiter(chan_sem_t *s, struct sem_waiter *me)
{
	if (me->prev)
		me->prev->next = me->next;
	else
		s->head = me->next;
	if (me->next)
		me->next->prev = me->prev;
	else
		s->tail = me->prev;
	me->prev = me->next = NULL;
	s->nwaiters--;
}

/*
 * Under s->lock: hand units to the head waiters while the head fits (x/sync's
 * notifyWaiters: never skip a head that does not fit, or a large request
 * would starve). The grant that empties the queue clears WAITERS in the same
 * CAS (I1).
 */
static void grant_heads(chan_sem_t *s)
{
	static const char one = 1;
	struct sem_waiter *h;
	chan_t *ready;

	while ((h = s->head) != NULL) {
		/* Relaxed: the CAS below re-reads it. */
		uint64_t w = atomic_load_explicit(&s->state, memory_order_relaxed);
		uint64_t nw;

		do {
			/* While anyone waits cur only falls (I2): a head that
			 * fits keeps fitting across a failed CAS. */
			if (s->size - CUR(w) < h->n)
				return;
			nw = w + (uint64_t)h->n;
			if (!h->next)
				nw &= ~WAITERS;
			/* A2: pairs with R1: the releases whose units we hand on
			 * happen-before the grant, and the channel carries that
			 * to the waiter. */
		} while (!atomic_compare_exchange_weak_explicit(&s->state, &w, nw,
								memory_order_acquire,
								memory_order_relaxed));
		unlink_waiter(s, h);
		h->granted = true;
		/* The send may wake h, which then returns without the lock: h's
		 * record is gone after it, only our reference keeps the channel. */
		ready = h->ready;
		if (chan_try_send(ready, &one) != 0)
			SEM_DIE("chan_sem: a waiter's channel refused its grant");
		chan_release(ready); /* the queue's reference (I3) */
	}
}

/* Under s->lock: set or clear WAITERS to match the queue (I1). */
static uint64_t set_waiters_bit(chan_sem_t *s, bool on)
{
	/* Relaxed: the flag orders nothing by itself; that a later release
	 * sees it is the word's modification order (the no-lost-wakeup proof). */
	if (on)
		return atomic_fetch_or_explicit(&s->state, WAITERS, memory_order_relaxed) | WAITERS;
	return atomic_fetch_and_explicit(&s->state, ~WAITERS, memory_order_relaxed) & ~WAITERS;
}

static int acquire_slow(chan_sem_t *s, int64_t n, chan_ctx_t *ctx)
{
	struct sem_waiter me = { .n = n };
	chan_t *done;
	int rc = 0;

	/* Both before queueing, so that running out of memory takes nothing:
	 * the ctx's done channel is made by its first wait. */
	done = chan_ctx_done(ctx);
	if (!done)
		return -ENOMEM;
	me.ready = chan_new(1, 1);
	if (!me.ready)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (!s->head && try_fast(s, n) == 0) {
		/* The fast path lost a race, not a queue: nothing to wait for. */
		pthread_mutex_unlock(&s->lock);
		chan_release(me.ready);
		return 0;
	}
	chan_retain(me.ready); /* the queue's reference (I3) */
	me.prev = s->tail;
	if (s->tail)
		s->tail->next = &me;
	else
		s->head = &me;
	s->tail = &me;
	s->nwaiters++;
	if (!me.prev)
		set_waiters_bit(s, true);
	/* Units freed before WAITERS was set are ours to hand out now. */
	grant_heads(s);
	pthread_mutex_unlock(&s->lock);

	for (;;) {
		chan_case_t cs[2] = {
			{ .chan = me.ready, .op = CHAN_OP_RECV },
			{ .chan = done, .op = CHAN_OP_RECV },
		};
		int r = chan_select(cs, 2);

		if (r == 0)
			break; /* granted */
		if (r == 1) {
			rc = chan_ctx_err(ctx);
			break;
		}
		/* -ENOMEM from select's bookkeeping cannot happen with 2 cases;
		 * treat anything else like a cancel of our own. */
		rc = r;
		break;
	}
	if (rc == 0) {
		/* As x/sync: granted, but the context ended meanwhile. */
		int err = chan_ctx_err(ctx);

		if (err) {
			chan_sem_release(s, n);
			rc = err;
		}
		chan_release(me.ready);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	if (me.granted) {
		/* The grant raced the cancel: give the units back. R1 again. */
		atomic_fetch_sub_explicit(&s->state, (uint64_t)n, memory_order_release);
		grant_heads(s);
	} else {
		bool was_head = s->head == &me;
		uint64_t w;

		unlink_waiter(s, &me);
		chan_release(me.ready); /* the queue's reference, unused */
		w = s->head ? atomic_load_explicit(&s->state, memory_order_relaxed)
			    : set_waiters_bit(s, false);
		/* x/sync: a canceled head may have been what held the others. */
		if (was_head && s->size > CUR(w))
			grant_heads(s);
	}
	pthread_mutex_unlock(&s->lock);
	chan_release(me.ready);
	return rc;
}

int chan_sem_acquire(chan_sem_t *s, int64_t n, chan_ctx_t *ctx)
{
	int rc;

	if (!s || !ctx || n <= 0 || n > s->size)
		return -EINVAL;
	rc = chan_ctx_err(ctx);
	if (rc)
		return rc; /* ctx first: no effect, even with free units */
	if (try_fast(s, n) == 0)
		return 0;
	return acquire_slow(s, n, ctx);
}

void chan_sem_release(chan_sem_t *s, int64_t n)
{
	uint64_t old;

	if (n < 0)
		SEM_DIE("chan_sem_release: negative weight");
	if (n == 0)
		return;
	/* R1: publishes the holder's work to whoever takes these units;
	 * pairs with A1 in try_fast() and A2 in grant_heads(). */
	old = atomic_fetch_sub_explicit(&s->state, (uint64_t)n, memory_order_release);
	if (CUR(old) < n)
		SEM_DIE("chan_sem_release: released more than held");
	if (old & WAITERS) {
		pthread_mutex_lock(&s->lock);
		grant_heads(s);
		pthread_mutex_unlock(&s->lock);
	}
}

size_t chan__sem_waiters(chan_sem_t *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nwaiters;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int64_t chan__sem_held(chan_sem_t *s)
{
	/* Relaxed: a snapshot for tests. */
	return CUR(atomic_load_explicit(&s->state, memory_order_relaxed));
}
