/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/sem_stress.c - the weighted semaphore from 8 threads.
 *
 * Invariants: "weight above size" (an atomic in-use sum, raised inside the
 * critical section, never exceeds the size) and "units lost or doubled"
 * (afterwards nothing is held and nobody waits), with random weights,
 * try_acquire, and waits that time out or are canceled. Sizes scale with
 * CHAN_STRESS_SCALE (percent; TSan builds run a tenth).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "tests/common/expect.h"

#include "patterns/sem_pvt.h"
#include "ring/compiler.h"


#define THREADS 8
#define SIZE	10

static long scaled(long n)
{
	const char *e = getenv("CHAN_STRESS_SCALE");
	long pct = e ? atol(e) : 100;

	if (CHAN__TSAN)
		pct /= 10;
	n = n * (pct > 0 ? pct : 1) / 100;
	return n > 50 ? n : 50;
}

static _Atomic int64_t in_use;
static _Atomic long taken, failed;

struct worker {
	chan_sem_t *s;
	long iters;
	unsigned seed;
	bool timeouts;
	pthread_t th;
};

static unsigned next(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (long i = 0; i < w->iters; i++) {
		unsigned x = next(&w->seed);
		int64_t n = 1 + x % SIZE;
		chan_ctx_t *ctx = NULL;
		int rc;

		if (x % 7 == 0) {
			rc = chan_sem_try_acquire(w->s, n);
		} else if (w->timeouts && x % 3 == 0) {
			ctx = chan_ctx_with_timeout(chan_ctx_background(), (int64_t)(x % 50) * 1000);
			rc = chan_sem_acquire(w->s, n, ctx);
		} else {
			rc = chan_sem_acquire(w->s, n, chan_ctx_background());
		}
		if (rc == 0) {
			int64_t now = atomic_fetch_add(&in_use, n) + n;

			EXPECT(now <= SIZE, "weight above size: %lld", (long long)now);
			for (unsigned k = x % 64; k; k--)
				chan__cpu_relax();
			if (x % 5 == 0)
				sched_yield();
			atomic_fetch_sub(&in_use, n);
			chan_sem_release(w->s, n);
			atomic_fetch_add(&taken, 1);
		} else {
			EXPECT(rc == -EAGAIN || rc == -ETIMEDOUT, "unexpected error %d", rc);
			atomic_fetch_add(&failed, 1);
		}
		chan_ctx_release(ctx);
	}
	return NULL;
}

static void run(bool timeouts, long iters)
{
	chan_sem_t *s = chan_sem_new(SIZE);
	struct worker w[THREADS];

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .s = s, .iters = iters, .seed = 99u * (unsigned)i + 1,
					.timeouts = timeouts };
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(w[i].th, NULL);
	cr_assert(!expect_failed(), "%s", expect_failure);
	cr_assert_eq(chan__sem_held(s), 0, "units lost or doubled");
	cr_assert_eq(chan__sem_waiters(s), 0, "a waiter left behind");
	cr_assert_eq(chan_sem_try_acquire(s, SIZE), 0);
	chan_sem_release(s, SIZE);
	cr_assert_gt(atomic_load(&taken), 0);
	chan_sem_destroy(s);
}

Test(sem_stress, weights_never_exceed_the_size, .timeout = 300)
{
	run(false, scaled(20000));
}

Test(sem_stress, with_timeouts_and_try_acquire, .timeout = 300)
{
	run(true, scaled(10000));
}
