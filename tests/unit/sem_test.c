/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/sem_test.c - the weighted semaphore of chan/sem.h: FIFO, no
 * barging, a canceled head wakes the next, ctx errors change nothing, misuse
 * aborts. Waiters are started one at a time and each is seen queued (through
 * the private chan__sem_waiters) before the next starts, so the orders the
 * tests check are the queue's, not the scheduler's.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <chan/chan.h>

#include "patterns/sem_pvt.h"

#define MS INT64_C(1000000)

struct waiter {
	chan_sem_t *s;
	int64_t n;
	chan_ctx_t *ctx;
	int id, rc;
	bool release_after; /* release right after acquiring */
	_Atomic int *order; /* where acquirers append their id */
	_Atomic int *pos;
	pthread_t th;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = chan_sem_acquire(w->s, w->n, w->ctx ? w->ctx : chan_ctx_background());
	if (w->rc == 0 && w->order)
		atomic_store(&w->order[atomic_fetch_add(w->pos, 1)], w->id);
	if (w->rc == 0 && w->release_after)
		chan_sem_release(w->s, w->n);
	return NULL;
}

static void wait_queued(chan_sem_t *s, size_t k)
{
	while (chan__sem_waiters(s) != k)
		sched_yield();
}

static void start(struct waiter *w)
{
	cr_assert_eq(pthread_create(&w->th, NULL, waiter_main, w), 0);
}

Test(sem, basics_and_errors)
{
	chan_sem_t *s = chan_sem_new(5);

	errno = 0;
	cr_assert_null(chan_sem_new(0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(chan_sem_new(-1));
	cr_assert_eq(chan_sem_acquire(s, 0, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_sem_acquire(s, -1, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_sem_acquire(s, 6, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_sem_acquire(s, 1, NULL), -EINVAL);
	cr_assert_eq(chan_sem_acquire(NULL, 1, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_sem_try_acquire(s, 0), -EINVAL);
	cr_assert_eq(chan_sem_try_acquire(s, 6), -EINVAL);
	cr_assert_eq(chan_sem_try_acquire(NULL, 1), -EINVAL);
	cr_assert_eq(chan_sem_acquire(s, 3, chan_ctx_background()), 0);
	cr_assert_eq(chan_sem_try_acquire(s, 3), -EAGAIN);
	cr_assert_eq(chan_sem_try_acquire(s, 2), 0);
	cr_assert_eq(chan__sem_held(s), 5);
	chan_sem_release(s, 0);
	chan_sem_release(s, 5);
	cr_assert_eq(chan__sem_held(s), 0);
	cr_assert_eq(chan_sem_try_acquire(s, 5), 0);
	chan_sem_release(s, 5);
	chan_sem_destroy(s);
	chan_sem_destroy(NULL);
}

Test(sem, ctx_done_first_takes_nothing)
{
	chan_sem_t *s = chan_sem_new(2);
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());

	chan_ctx_cancel(ctx);
	cr_assert_eq(chan_sem_acquire(s, 1, ctx), -ECANCELED, "ctx first, though units are free");
	cr_assert_eq(chan__sem_held(s), 0);
	cr_assert_eq(chan_sem_acquire(s, 3, ctx), -EINVAL, "arguments before the context");
	chan_ctx_release(ctx);
	chan_sem_destroy(s);
}

Test(sem, try_acquire_never_barges_past_a_waiter)
{
	chan_sem_t *s = chan_sem_new(10);
	struct waiter a = { .s = s, .n = 5 };

	cr_assert_eq(chan_sem_acquire(s, 10, chan_ctx_background()), 0);
	start(&a);
	wait_queued(s, 1);
	chan_sem_release(s, 3); /* 3 free: not enough for a's 5 */
	cr_assert_eq(chan__sem_waiters(s), 1);
	cr_assert_eq(chan_sem_try_acquire(s, 1), -EAGAIN, "1 would fit, but a waits: no barging");
	cr_assert_eq(chan__sem_held(s), 7);
	chan_sem_release(s, 2); /* 5 free: a's turn */
	pthread_join(a.th, NULL);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(chan__sem_held(s), 10);
	chan_sem_release(s, 10);
	chan_sem_destroy(s);
}

Test(sem, acquire_never_barges_either)
{
	chan_sem_t *s = chan_sem_new(4);
	struct waiter a = { .s = s, .n = 4 }, b = { .s = s, .n = 1 };

	cr_assert_eq(chan_sem_acquire(s, 2, chan_ctx_background()), 0);
	start(&a);
	wait_queued(s, 1);
	start(&b); /* 2 units are free and b wants 1: it still queues behind a */
	wait_queued(s, 2);
	cr_assert_eq(chan__sem_held(s), 2);
	chan_sem_release(s, 2);
	pthread_join(a.th, NULL);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(chan__sem_waiters(s), 1, "a holds all 4; b still waits");
	chan_sem_release(s, 4);
	pthread_join(b.th, NULL);
	cr_assert_eq(b.rc, 0);
	chan_sem_release(s, 1);
	chan_sem_destroy(s);
}

Test(sem, waiters_are_served_in_fifo_order)
{
	enum { K = 8 };
	chan_sem_t *s = chan_sem_new(3);
	struct waiter w[K];
	_Atomic int order[K], pos = 0;

	/* Weights 2 and 3 of 3: no two waiters fit at once, so each grant
	 * (and the record it makes) comes after the previous one's release. */
	cr_assert_eq(chan_sem_acquire(s, 3, chan_ctx_background()), 0);
	for (int i = 0; i < K; i++) {
		w[i] = (struct waiter){ .s = s, .n = 2 + i % 2, .id = i, .order = order, .pos = &pos,
					.release_after = true };
		start(&w[i]);
		wait_queued(s, (size_t)i + 1);
	}
	chan_sem_release(s, 3);
	for (int i = 0; i < K; i++)
		pthread_join(w[i].th, NULL);
	for (int i = 0; i < K; i++) {
		cr_assert_eq(w[i].rc, 0);
		cr_assert_eq(atomic_load(&order[i]), i, "position %d went to waiter %d", i,
			     atomic_load(&order[i]));
	}
	cr_assert_eq(chan__sem_held(s), 0);
	chan_sem_destroy(s);
}

Test(sem, a_canceled_head_wakes_the_next_that_fits)
{
	chan_sem_t *s = chan_sem_new(10);
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	struct waiter big = { .s = s, .n = 8, .ctx = ctx }, b1 = { .s = s, .n = 1 },
		      b2 = { .s = s, .n = 1 }, b3 = { .s = s, .n = 5 };

	cr_assert_eq(chan_sem_acquire(s, 8, chan_ctx_background()), 0); /* 2 free */
	start(&big);
	wait_queued(s, 1);
	start(&b1);
	wait_queued(s, 2);
	start(&b2);
	wait_queued(s, 3);
	start(&b3);
	wait_queued(s, 4);
	cr_assert_eq(chan__sem_held(s), 8, "the head does not fit, so nobody behind it goes");
	chan_ctx_cancel(ctx);
	pthread_join(big.th, NULL);
	cr_assert_eq(big.rc, -ECANCELED);
	pthread_join(b1.th, NULL);
	pthread_join(b2.th, NULL);
	cr_assert_eq(b1.rc, 0);
	cr_assert_eq(b2.rc, 0);
	cr_assert_eq(chan__sem_held(s), 10, "b1 and b2 took the 2 free units");
	cr_assert_eq(chan__sem_waiters(s), 1, "b3 (5) waits");
	chan_sem_release(s, 8);
	pthread_join(b3.th, NULL);
	cr_assert_eq(b3.rc, 0);
	chan_sem_release(s, 7);
	cr_assert_eq(chan__sem_held(s), 0);
	chan_ctx_release(ctx);
	chan_sem_destroy(s);
}

Test(sem, a_canceled_waiter_in_the_middle_leaves_the_rest_alone)
{
	chan_sem_t *s = chan_sem_new(2);
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	struct waiter a = { .s = s, .n = 2 }, m = { .s = s, .n = 1, .ctx = ctx },
		      c = { .s = s, .n = 2 };

	cr_assert_eq(chan_sem_acquire(s, 2, chan_ctx_background()), 0);
	start(&a);
	wait_queued(s, 1);
	start(&m);
	wait_queued(s, 2);
	start(&c);
	wait_queued(s, 3);
	chan_ctx_cancel(ctx);
	pthread_join(m.th, NULL);
	cr_assert_eq(m.rc, -ECANCELED);
	cr_assert_eq(chan__sem_waiters(s), 2);
	cr_assert_eq(chan__sem_held(s), 2);
	chan_sem_release(s, 2);
	pthread_join(a.th, NULL);
	chan_sem_release(s, 2);
	pthread_join(c.th, NULL);
	cr_assert(a.rc == 0 && c.rc == 0);
	chan_sem_release(s, 2);
	chan_ctx_release(ctx);
	chan_sem_destroy(s);
}

Test(sem, a_timeout_while_waiting_leaves_the_state_unchanged)
{
	chan_sem_t *s = chan_sem_new(3);
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 30 * MS);

	cr_assert_eq(chan_sem_acquire(s, 2, chan_ctx_background()), 0);
	cr_assert_eq(chan_sem_acquire(s, 2, ctx), -ETIMEDOUT);
	cr_assert_eq(chan__sem_held(s), 2);
	cr_assert_eq(chan__sem_waiters(s), 0);
	cr_assert_eq(chan_sem_try_acquire(s, 1), 0, "no waiter left behind: the fast path is back");
	chan_sem_release(s, 3);
	chan_ctx_release(ctx);
	chan_sem_destroy(s);
}

/* Grants racing cancels: whichever wins, the units add up afterwards. */
Test(sem, grant_racing_cancel_keeps_the_count, .timeout = 120)
{
	chan_sem_t *s = chan_sem_new(1);

	for (int i = 0; i < 300; i++) {
		chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
		struct waiter w = { .s = s, .n = 1, .ctx = ctx, .release_after = true };

		cr_assert_eq(chan_sem_acquire(s, 1, chan_ctx_background()), 0);
		start(&w);
		wait_queued(s, 1);
		if (i % 2) {
			chan_sem_release(s, 1);
			chan_ctx_cancel(ctx);
		} else {
			chan_ctx_cancel(ctx);
			chan_sem_release(s, 1);
		}
		pthread_join(w.th, NULL);
		cr_assert(w.rc == 0 || w.rc == -ECANCELED);
		cr_assert_eq(chan__sem_waiters(s), 0);
		cr_assert_eq(chan__sem_held(s), 0, "round %d: units lost or doubled", i);
		chan_ctx_release(ctx);
	}
	chan_sem_destroy(s);
}

Test(sem, release_of_more_than_held_aborts, .signal = SIGABRT)
{
	chan_sem_t *s = chan_sem_new(4);

	cr_assert_eq(chan_sem_acquire(s, 2, chan_ctx_background()), 0);
	chan_sem_release(s, 3);
}

Test(sem, release_on_an_idle_semaphore_aborts, .signal = SIGABRT)
{
	chan_sem_release(chan_sem_new(4), 1);
}

Test(sem, negative_release_aborts, .signal = SIGABRT)
{
	chan_sem_release(chan_sem_new(4), -1);
}
