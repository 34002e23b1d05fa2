/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/park_test.c - waiters, parking and the wait-queue lock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <chan/clock.h>

#include "core/clock_pvt.h"
#include "core/lock_pvt.h"
#include "core/park_pvt.h"
#include "core/waitq_pvt.h"

#define MS 1000000LL

Test(park, unpark_before_park_is_not_lost)
{
	struct chan__waiter w;

	chan__waiter_init(&w);
	cr_assert(chan__waiter_claim(&w, 42));
	chan__unpark(&w);
	cr_assert_eq(chan__park(&w, CHAN__FOREVER), 0);
	cr_assert_eq(chan__waiter_selected(&w), 42);
	cr_assert_eq(atomic_load(&w.futex), PARK_IDLE, "the notification was consumed");
}

Test(park, timeout_is_never_early)
{
	struct chan__waiter w;
	int64_t t0 = chan_now();

	chan__waiter_init(&w);
	cr_assert_eq(chan__park(&w, t0 + 20 * MS), -ETIMEDOUT);
	cr_assert_geq(chan_now(), t0 + 20 * MS);
	cr_assert_eq(chan__park(&w, 0), -ETIMEDOUT, "a past deadline times out");
	cr_assert(chan__waiter_abort(&w));
	cr_assert(!chan__waiter_claim(&w, 7), "an aborted waiter cannot be claimed");
}

Test(park, claim_is_exclusive)
{
	struct chan__waiter w;

	chan__waiter_init(&w);
	cr_assert(chan__waiter_claim(&w, 5));
	cr_assert(!chan__waiter_claim(&w, 6));
	cr_assert(!chan__waiter_abort(&w), "abort after a claim fails");
	cr_assert_eq(chan__waiter_selected(&w), 5);
}

struct waker {
	struct chan__waiter *w;
	long ms;
};

static void *wake_later(void *arg)
{
	struct waker *k = arg;
	struct timespec ts = { 0, k->ms * 1000000L };

	nanosleep(&ts, NULL);
	if (chan__waiter_claim(k->w, 99))
		chan__unpark(k->w);
	return NULL;
}

Test(park, sleeper_is_woken)
{
	for (int i = 0; i < 20; i++) {
		struct chan__waiter w;
		struct waker k = { &w, i % 3 };
		pthread_t t;

		chan__waiter_init(&w);
		pthread_create(&t, NULL, wake_later, &k);
		cr_assert_eq(chan__park(&w, CHAN__FOREVER), 0);
		cr_assert_eq(chan__waiter_selected(&w), 99);
		pthread_join(t, NULL);
	}
}

Test(park, timeout_racing_a_claim_resolves_to_one_outcome)
{
	/* Whatever wins, the waiter ends IDLE and knows who won. */
	for (int i = 0; i < 50; i++) {
		struct chan__waiter w;
		struct waker k = { &w, 1 };
		pthread_t t;

		chan__waiter_init(&w);
		pthread_create(&t, NULL, wake_later, &k);
		if (chan__park(&w, chan_now() + 1 * MS) < 0 && !chan__waiter_abort(&w))
			cr_assert_eq(chan__park(&w, CHAN__FOREVER), 0);
		pthread_join(t, NULL);
		uintptr_t sel = chan__waiter_selected(&w);
		cr_assert(sel == 99 || sel == CHAN__SEL_ABORTED);
		cr_assert_eq(atomic_load(&w.futex), PARK_IDLE);
	}
}

static struct chan__lock lk;
static long counter;

static void *hammer_lock(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200000; i++) {
		chan__lock_acquire(&lk);
		counter++;
		chan__lock_release(&lk);
	}
	return NULL;
}

Test(lock, mutual_exclusion)
{
	pthread_t t[4];

	chan__lock_init(&lk);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer_lock, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(counter, 800000, "lost increments: the lock is not exclusive");
}

Test(waitq, claim_skips_dead_entries_in_fifo_order)
{
	struct chan__waitq q;
	struct chan__waiter w[3];
	struct chan__wentry e[3];

	chan__waitq_init(&q);
	for (int i = 0; i < 3; i++) {
		chan__waiter_init(&w[i]);
		chan__wentry_init(&e[i], &w[i], NULL, (unsigned)i);
		chan__waitq_push(&q, &e[i]);
	}
	cr_assert(chan__waitq_has_waiters(&q));
	cr_assert(chan__waiter_abort(&w[0])); /* e[0] is dead */
	cr_assert_eq(chan__waitq_claim(&q, &w[1]), &e[2], "skip the dead and the excluded");
	cr_assert(!e[0].queued, "dead entries are unlinked on the way");
	cr_assert(e[1].queued);
	chan__waitq_remove(&q, &e[0]); /* the owner's own removal is a no-op now */
	chan__waitq_remove(&q, &e[1]);
	cr_assert(!chan__waitq_has_waiters(&q));
	cr_assert_null(chan__waitq_claim(&q, NULL));
}

Test(clock, deadlines_saturate)
{
	cr_assert_eq(chan__deadline(0), 0);
	cr_assert_eq(chan__deadline(-1), 0);
	cr_assert_eq(chan__deadline(INT64_MAX), CHAN__FOREVER);
	cr_assert_eq(chan__deadline(INT64_MAX - 5), CHAN__FOREVER);
	int64_t now = chan_now(), d = chan__deadline(MS);
	cr_assert_geq(d, now + MS);
	cr_assert_gt(now, 0);
}
