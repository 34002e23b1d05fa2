/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/limiter_stress.c - the limiter from 8 threads at once.
 *
 * Invariant checked ("admitted over the bound"): each admitted event
 * happened at some instant inside its allow() call, so every window [a, b]
 * holds at most burst + rate * (b - a) of the events whose whole call lies
 * inside it; and in all, at most burst + rate * (end - creation). Sizes scale
 * with CHAN_STRESS_SCALE (percent; TSan builds run a tenth).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "tests/common/expect.h"

#include "ring/compiler.h"


#define THREADS 8
#define MS	INT64_C(1000000)

static long scaled(long n)
{
	const char *e = getenv("CHAN_STRESS_SCALE");
	long pct = e ? atol(e) : 100;

	if (CHAN__TSAN)
		pct /= 10;
	n = n * (pct > 0 ? pct : 1) / 100;
	return n > 100 ? n : 100;
}

struct span {
	int64_t from, to;
};

struct runner {
	chan_limiter_t *l;
	long calls;
	size_t got;
	struct span *ev;
	pthread_t th;
};

static void *allow_main(void *arg)
{
	struct runner *r = arg;

	for (long i = 0; i < r->calls; i++) {
		int64_t from = chan_now();

		if (chan_limiter_allow(r->l))
			r->ev[r->got++] = (struct span){ from, chan_now() };
	}
	return NULL;
}

static int by_from(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return (x->from > y->from) - (x->from < y->from);
}

static void allow_run(double rate, size_t burst, long calls)
{
	struct runner r[THREADS];
	int64_t created, end;
	struct span *all;
	size_t total = 0, k = 0;
	chan_limiter_t *l = chan_limiter_new(rate, burst);

	created = chan_now();
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct runner){ .l = l, .calls = calls };
		r[i].ev = malloc(sizeof(*r[i].ev) * (size_t)calls);
		pthread_create(&r[i].th, NULL, allow_main, &r[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(r[i].th, NULL);
		total += r[i].got;
	}
	end = chan_now();
	cr_assert_leq((double)total, (double)burst + rate * (double)(end - created) / 1e9,
		      "admitted over the bound: %zu in %lld ns", total, (long long)(end - created));
	cr_assert_geq(total, burst, "the first burst at least");
	all = malloc(sizeof(*all) * (total ? total : 1));
	for (int i = 0; i < THREADS; i++)
		for (size_t j = 0; j < r[i].got; j++)
			all[k++] = r[i].ev[j];
	qsort(all, total, sizeof(*all), by_from);
	/* Windows of 1, 5 and 20 ms starting at each event. */
	for (size_t i = 0; i < total; i++) {
		static const int64_t w[] = { 1 * MS, 5 * MS, 20 * MS };

		for (int q = 0; q < 3; q++) {
			int64_t b = all[i].from + w[q];
			size_t in = 0;

			for (size_t j = i; j < total && all[j].from <= b; j++)
				in += all[j].to <= b;
			cr_assert_leq((double)in, (double)burst + rate * (double)w[q] / 1e9,
				      "admitted over the bound in a %lld ns window", (long long)w[q]);
		}
	}
	free(all);
	for (int i = 0; i < THREADS; i++)
		free(r[i].ev);
	chan_limiter_destroy(l);
}

Test(limiter_stress, eight_threads_never_exceed_the_bound, .timeout = 300)
{
	allow_run(2e5, 100, scaled(100000)); /* mostly rejected: calls outrun tokens */
	allow_run(1e4, 5, scaled(20000));
	allow_run(0, 50, scaled(20000));	  /* the burst once, exactly */
}

struct churn {
	chan_limiter_t *l;
	long ops;
	unsigned seed;
	int role;
	pthread_t th;
};

static unsigned next(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void *churn_main(void *arg)
{
	struct churn *c = arg;

	for (long i = 0; i < c->ops; i++) {
		unsigned x = next(&c->seed);
		chan_reservation_t r;
		int64_t now = chan_now();

		if (c->role == 0 && x % 64 == 0) {
			static const double rates[] = { 1e3, 1e5, 0, CHAN_LIMIT_INF, 1e-10, 7e6 };

			chan_limiter_set_rate(c->l, rates[x / 64 % 6]);
		} else if (c->role == 0 && x % 64 == 1) {
			chan_limiter_set_burst(c->l, x / 64 % 40);
		} else if (x % 3 == 0) {
			if (chan_limiter_reserve(c->l, now, 1 + x % 4, 2 * MS, &r) == 0 && x % 2)
				chan_limiter_cancel(c->l, &r, now);
		} else {
			chan_limiter_allow_n(c->l, now, x % 5);
		}
		double t = chan_limiter_tokens(c->l, chan_now());

		EXPECT(isinf(t) || t <= 40.0, "more tokens (%g) than any burst", t);
	}
	return NULL;
}

Test(limiter_stress, reconfiguration_churn_with_reserve_and_cancel, .timeout = 300)
{
	chan_limiter_t *l = chan_limiter_new(1e5, 20);
	struct churn c[THREADS];

	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct churn){ .l = l, .ops = scaled(40000), .seed = 7u + (unsigned)i,
				       .role = i < 2 ? 0 : 1 };
		pthread_create(&c[i].th, NULL, churn_main, &c[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(c[i].th, NULL);
	cr_assert(!expect_failed(), "%s", expect_failure);
	chan_limiter_set_rate(l, 10);
	chan_limiter_set_burst(l, 3);
	cr_assert_leq(chan_limiter_tokens(l, chan_now()), 3.0);
	chan_limiter_destroy(l);
}

struct waiter {
	chan_limiter_t *l;
	int n, rc;
	pthread_t th;
};

static void *wait_main(void *arg)
{
	struct waiter *w = arg;

	for (int i = 0; i < w->n && w->rc == 0; i++)
		w->rc = chan_limiter_wait(w->l, 1, chan_ctx_background());
	return NULL;
}

Test(limiter_stress, concurrent_waits_are_paced, .timeout = 120)
{
	chan_limiter_t *l = chan_limiter_new(200, 1);
	struct waiter w[4];
	int64_t start = chan_now();

	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter){ .l = l, .n = 10 };
		pthread_create(&w[i].th, NULL, wait_main, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(w[i].th, NULL);
		cr_assert_eq(w[i].rc, 0);
	}
	/* 40 tokens, one in the bucket: 39 intervals of 5 ms at least. */
	cr_assert_geq(chan_now() - start, 39 * 5 * MS, "waits ran ahead of the rate");
	chan_limiter_destroy(l);
}
