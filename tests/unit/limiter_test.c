/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/limiter_test.c - the token bucket of chan/limiter.h.
 *
 * Most tests drive the limiter along an explicit time line that starts an
 * hour ahead of chan_now(), so that the calls that read the clock themselves
 * (set_rate, set_burst) find the limiter's own time later than the clock
 * and act at it: the results are exact and do not depend on scheduling. The
 * cancel tests are x/time/rate's (rate_test.go), on the same time line.
 * Checks against the real clock are one-sided ("never early").
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <chan/chan.h>

#define MS  INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define D   (100 * MS) /* x/time/rate's d: one token at rate 10 */

static int64_t t0;

static int64_t tt(int64_t k)
{
	return t0 + k * D;
}

static chan_limiter_t *mk(double rate, size_t burst)
{
	chan_limiter_t *l = chan_limiter_new(rate, burst);

	cr_assert_not_null(l);
	t0 = chan_now() + 3600 * SEC;
	return l;
}

static bool near(double a, double b)
{
	return fabs(a - b) < 1e-6;
}

Test(limiter, new_rejects_bad_rates)
{
	errno = 0;
	cr_assert_null(chan_limiter_new(-2, 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_limiter_new(NAN, 1));
	cr_assert_eq(errno, EINVAL);
	chan_limiter_destroy(NULL);
	cr_assert(!chan_limiter_allow_n(NULL, 0, 1));
	cr_assert(!chan_limiter_allow(NULL));
	cr_assert_eq(chan_limiter_tokens(NULL, 0), 0);
	chan_limiter_cancel(NULL, NULL, 0);
	chan_limiter_set_rate(NULL, 1);
	chan_limiter_set_burst(NULL, 1);
}

Test(limiter, starts_full_and_refills_at_the_rate)
{
	chan_limiter_t *l = mk(10, 5);

	cr_assert(near(chan_limiter_tokens(l, tt(0)), 5));
	for (int i = 0; i < 5; i++)
		cr_assert(chan_limiter_allow_n(l, tt(0), 1), "token %d of the first burst", i);
	cr_assert(!chan_limiter_allow_n(l, tt(0), 1));
	cr_assert(!chan_limiter_allow_n(l, tt(1) - 1, 1), "a token is due at t1, not before");
	cr_assert(chan_limiter_allow_n(l, tt(1), 1));
	cr_assert(!chan_limiter_allow_n(l, tt(1), 1));
	cr_assert(near(chan_limiter_tokens(l, tt(3)), 2));
	cr_assert(chan_limiter_allow_n(l, tt(3), 2));
	cr_assert(near(chan_limiter_tokens(l, tt(1000)), 5), "never above the burst");
	cr_assert(!chan_limiter_allow_n(l, tt(1000), 6), "n > burst is never allowed");
	cr_assert(chan_limiter_allow_n(l, tt(1000), 5));
	cr_assert(chan_limiter_allow_n(l, tt(1000), 0), "n == 0 conforms while tokens >= 0");
	chan_limiter_destroy(l);
}

/* x/time/rate's TestSimultaneousRequests-like rule, sequentially: reserves
 * queue up one interval apart once the bucket is empty. */
Test(limiter, reservations_queue_at_the_rate)
{
	chan_limiter_t *l = mk(10, 2);
	chan_reservation_t r;

	cr_assert_eq(chan_limiter_reserve(l, tt(0), 2, 0, &r), 0);
	cr_assert_eq(r.n, 2);
	cr_assert_eq(r.act_at_ns, tt(0));
	for (int k = 1; k <= 5; k++) {
		cr_assert_eq(chan_limiter_reserve(l, tt(0), 1, 100 * SEC, &r), 0);
		cr_assert_eq(r.act_at_ns, tt(k), "reservation %d acts at t%d", k, k);
		cr_assert_eq(r.tat_end, tt(k + 2));
	}
	cr_assert(near(chan_limiter_tokens(l, tt(0)), -5));
	cr_assert(near(chan_limiter_tokens(l, tt(5)), 0));
	chan_limiter_destroy(l);
}

Test(limiter, reserve_max_wait_is_exact_and_errors_change_nothing)
{
	chan_limiter_t *l = mk(10, 3);
	chan_reservation_t r;

	cr_assert_eq(chan_limiter_reserve(l, tt(0), 3, 0, &r), 0);
	cr_assert_eq(chan_limiter_reserve(l, tt(0), 2, 2 * D - 1, &r), -ETIMEDOUT);
	cr_assert_eq(r.n, 0);
	cr_assert_eq(r.act_at_ns, tt(2), "a refused reserve says when it would have acted");
	cr_assert_eq(r.tat_end, INT64_MIN);
	cr_assert(near(chan_limiter_tokens(l, tt(0)), 0), "nothing was taken");
	cr_assert_eq(chan_limiter_reserve(l, tt(0), 4, INT64_MAX, &r), -EINVAL);
	cr_assert_eq(r.n, 0);
	cr_assert_eq(chan_limiter_reserve(l, tt(0), 2, 2 * D, &r), 0);
	cr_assert_eq(r.act_at_ns, tt(2));
	cr_assert_eq(chan_limiter_reserve(l, tt(9), 1, -1, &r), -ETIMEDOUT,
		     "a negative max wait refuses even tokens that are there");
	cr_assert_eq(chan_limiter_reserve(NULL, tt(0), 1, 0, &r), -EINVAL);
	cr_assert_eq(chan_limiter_reserve(l, tt(0), 1, 0, NULL), -EINVAL);
	chan_limiter_destroy(l);
}

/* ---- x/time/rate's cancel tests ---- */

static void res(chan_limiter_t *l, int64_t at, size_t n, int64_t act, chan_reservation_t *out)
{
	chan_reservation_t r;

	cr_assert_eq(chan_limiter_reserve(l, at, n, INT64_MAX / 2, &r), 0);
	cr_assert_eq(r.act_at_ns, act, "reserve(%zu) acts at %lld d, want %lld d", n,
		     (long long)((r.act_at_ns - t0) / D), (long long)((act - t0) / D));
	if (out)
		*out = r;
}

Test(limiter, cancel_last)
{
	chan_limiter_t *l = mk(10, 2);
	chan_reservation_t r;

	res(l, tt(0), 2, tt(0), NULL);
	res(l, tt(0), 2, tt(2), &r);
	chan_limiter_cancel(l, &r, tt(1)); /* got 2 tokens back */
	res(l, tt(1), 2, tt(2), NULL);
	chan_limiter_destroy(l);
}

Test(limiter, cancel_too_late)
{
	chan_limiter_t *l = mk(10, 2);
	chan_reservation_t r;

	res(l, tt(0), 2, tt(0), NULL);
	res(l, tt(0), 2, tt(2), &r);
	chan_limiter_cancel(l, &r, tt(3)); /* too late: no effect */
	res(l, tt(3), 2, tt(4), NULL);
	chan_limiter_destroy(l);
}

Test(limiter, cancel_0_tokens)
{
	chan_limiter_t *l = mk(10, 2);
	chan_reservation_t r;

	res(l, tt(0), 2, tt(0), NULL);
	res(l, tt(0), 1, tt(1), &r);
	res(l, tt(0), 1, tt(2), NULL);
	chan_limiter_cancel(l, &r, tt(0)); /* got 0 tokens back */
	res(l, tt(0), 1, tt(3), NULL);
	chan_limiter_destroy(l);
}

Test(limiter, cancel_1_token)
{
	chan_limiter_t *l = mk(10, 2);
	chan_reservation_t r;

	res(l, tt(0), 2, tt(0), NULL);
	res(l, tt(0), 2, tt(2), &r);
	res(l, tt(0), 1, tt(3), NULL);
	chan_limiter_cancel(l, &r, tt(2)); /* got 1 token back */
	res(l, tt(2), 2, tt(4), NULL);
	chan_limiter_destroy(l);
}

Test(limiter, cancel_multi)
{
	chan_limiter_t *l = mk(10, 4);
	chan_reservation_t ra, rc;

	res(l, tt(0), 4, tt(0), NULL);
	res(l, tt(0), 3, tt(3), &ra);
	res(l, tt(0), 1, tt(4), NULL);
	res(l, tt(0), 1, tt(5), &rc);
	chan_limiter_cancel(l, &rc, tt(1)); /* get 1 token back */
	chan_limiter_cancel(l, &ra, tt(1)); /* get 2 tokens back, as if C was never reserved */
	res(l, tt(1), 3, tt(5), NULL);
	chan_limiter_destroy(l);
}

Test(limiter, cancel_invalid)
{
	chan_limiter_t *l = mk(10, 2);
	chan_reservation_t r;

	res(l, tt(0), 2, tt(0), NULL);
	cr_assert_eq(chan_limiter_reserve(l, tt(0), 3, INT64_MAX, &r), -EINVAL);
	chan_limiter_cancel(l, &r, tt(0)); /* should have no effect */
	res(l, tt(0), 2, tt(2), NULL);	   /* did not get extra tokens */
	chan_limiter_destroy(l);
}

/* A reservation that did not have to wait comes back whole even after later
 * ones that did not wait either (x/time/rate measures "reserved after" from
 * the act time, so those are not counted against it). */
Test(limiter, cancel_of_an_immediate_reservation_restores_it_all)
{
	chan_limiter_t *l = mk(1, 10);
	chan_reservation_t r;

	res(l, t0, 5, t0, &r);
	cr_assert(chan_limiter_allow_n(l, t0, 3));
	chan_limiter_cancel(l, &r, t0);
	cr_assert(near(chan_limiter_tokens(l, t0), 7));
	chan_limiter_cancel(l, &(chan_reservation_t){ 0 }, t0); /* n == 0: nothing */
	cr_assert(near(chan_limiter_tokens(l, t0), 7));
	chan_limiter_destroy(l);
}

/* ---- the window bound, against an exact model ---- */

struct ev {
	int64_t at;
	size_t n;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t xr(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Every window [a, b] holds at most burst + rate * (b - a) tokens' worth of
 * events (their act times; canceled reservations excluded). */
static void check_windows(const struct ev *e, size_t m, double rate, size_t burst)
{
	for (size_t i = 0; i < m; i++) {
		double sum = 0;

		for (size_t j = i; j < m; j++) {
			sum += (double)e[j].n;
			cr_assert(sum <= (double)burst + rate * (double)(e[j].at - e[i].at) / 1e9 + 1e-9,
				  "window [%zu, %zu] admitted %.0f > burst + rate * d", i, j, sum);
		}
	}
}

static int cmp_ev(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	return (x->at > y->at) - (x->at < y->at);
}

static void window_run(double rate, size_t burst, int64_t max_step)
{
	enum { OPS = 1500 };
	struct ev *e = calloc(OPS, sizeof(*e));
	chan_limiter_t *l = mk(rate, burst);
	int64_t now = t0;
	size_t m = 0;

	for (int i = 0; i < OPS; i++) {
		size_t n = 1 + xr() % (burst ? burst : 1);
		chan_reservation_t r;

		now += (int64_t)(xr() % (uint64_t)max_step);
		switch (xr() % 3) {
		case 0:
			if (chan_limiter_allow_n(l, now, n))
				e[m++] = (struct ev){ now, n };
			break;
		case 1:
			if (chan_limiter_reserve(l, now, n, max_step * 4, &r) == 0)
				e[m++] = (struct ev){ r.act_at_ns, n };
			break;
		default:
			/* Reserve, then change one's mind before acting. */
			if (chan_limiter_reserve(l, now, n, max_step * 4, &r) == 0) {
				int64_t c = now + (int64_t)(xr() % (uint64_t)(r.act_at_ns - now + 1));

				if (xr() % 2) {
					chan_limiter_cancel(l, &r, c);
					now = c;
				} else {
					e[m++] = (struct ev){ r.act_at_ns, n };
				}
			}
			break;
		}
	}
	qsort(e, m, sizeof(*e), cmp_ev);
	cr_assert_gt(m, (size_t)OPS / 10, "the run admitted something");
	check_windows(e, m, rate, burst);
	chan_limiter_destroy(l);
	free(e);
}

Test(limiter, window_bound_burst_plus_rate_d, .timeout = 120)
{
	window_run(10, 5, 150 * MS);
	window_run(3, 4, 500 * MS);	/* interval 333,333,333.3 ns: rounded up */
	window_run(7e6, 16, 400);	/* 142.86 ns */
	window_run(1e9, 64, 30);	/* one per ns */
	window_run(0.5, 1, 3 * SEC);
}

/* allow_n against x/time/rate's (tokens, last) bookkeeping in exact integers
 * (tokens * T ns), for whole-ns intervals: every decision the same. */
Test(limiter, allow_n_matches_the_exact_model)
{
	static const struct {
		double rate;
		int64_t t_ns;
		size_t burst;
	} cs[] = { { 10, 100 * MS, 5 }, { 1e6, 1000, 3 }, { 0.25, 4 * SEC, 2 }, { 1e9, 1, 100 } };

	for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
		chan_limiter_t *l = mk(cs[k].rate, cs[k].burst);
		__int128 cap = (__int128)cs[k].burst * cs[k].t_ns, tok = cap;
		int64_t now = t0, last = t0;

		for (int i = 0; i < 20000; i++) {
			size_t n = xr() % (cs[k].burst + 2);
			bool want, got;

			now += (int64_t)(xr() % (uint64_t)(cs[k].t_ns * 2));
			tok += now - last;
			if (tok > cap)
				tok = cap;
			last = now;
			want = n <= cs[k].burst && tok >= (__int128)n * cs[k].t_ns;
			if (want)
				tok -= (__int128)n * cs[k].t_ns;
			got = chan_limiter_allow_n(l, now, n);
			cr_assert_eq(got, want, "case %zu op %d: allow_n(%zu) = %d, model %d", k, i, n,
				     got, want);
		}
		chan_limiter_destroy(l);
	}
}

/* ---- edge cases ---- */

Test(limiter, rate_zero_is_the_burst_once)
{
	chan_limiter_t *l = mk(0, 3);
	chan_reservation_t r;

	cr_assert(near(chan_limiter_tokens(l, t0), 3));
	cr_assert(chan_limiter_allow_n(l, t0, 2));
	cr_assert(chan_limiter_allow_n(l, t0 + 1000 * SEC, 1));
	cr_assert(!chan_limiter_allow_n(l, t0 + 1000 * SEC, 1));
	cr_assert(!chan_limiter_allow_n(l, INT64_MAX, 1), "never refilled");
	cr_assert(near(chan_limiter_tokens(l, INT64_MAX), 0));
	cr_assert_eq(chan_limiter_reserve(l, INT64_MAX, 1, INT64_MAX, &r), -ETIMEDOUT);
	cr_assert_eq(r.act_at_ns, INT64_MAX, "never");
	cr_assert_eq(chan_limiter_wait(l, 1, chan_ctx_background()), -ETIMEDOUT,
		     "a wait for tokens that never come is refused at once");
	chan_limiter_destroy(l);
}

Test(limiter, burst_zero_admits_nothing)
{
	chan_limiter_t *l = mk(1e6, 0);
	chan_reservation_t r;

	for (int i = 0; i < 100; i++)
		cr_assert(!chan_limiter_allow_n(l, tt(i), 1));
	cr_assert(chan_limiter_allow_n(l, tt(0), 0));
	cr_assert_eq(chan_limiter_reserve(l, tt(0), 1, INT64_MAX, &r), -EINVAL);
	cr_assert_eq(chan_limiter_wait(l, 1, chan_ctx_background()), -EINVAL);
	cr_assert(near(chan_limiter_tokens(l, tt(0)), 0));
	chan_limiter_destroy(l);
}

Test(limiter, inf_admits_everything_and_ignores_burst)
{
	chan_limiter_t *l = mk(CHAN_LIMIT_INF, 0);
	chan_limiter_t *h = chan_limiter_new(HUGE_VAL, 1);
	chan_reservation_t r;

	for (int i = 0; i < 1000; i++)
		cr_assert(chan_limiter_allow_n(l, t0, SIZE_MAX));
	cr_assert(chan_limiter_allow(h) && chan_limiter_allow(h) && chan_limiter_allow(h));
	cr_assert_eq(chan_limiter_reserve(l, t0, SIZE_MAX, 0, &r), 0);
	cr_assert_eq(r.n, SIZE_MAX);
	cr_assert_eq(r.act_at_ns, t0);
	cr_assert_eq(r.tat_end, INT64_MIN, "took nothing");
	chan_limiter_cancel(l, &r, t0);
	cr_assert(isinf(chan_limiter_tokens(l, t0)));
	cr_assert_eq(chan_limiter_wait(l, SIZE_MAX, chan_ctx_background()), 0);
	chan_limiter_destroy(l);
	chan_limiter_destroy(h);
}

Test(limiter, tiny_rates_never_overflow_into_no_wait)
{
	chan_limiter_t *l = mk(1e-10, 3); /* a token per 1e19 ns: past INT64_MAX */
	chan_limiter_t *g = mk(1e-9, 1);  /* a token per 1e18 ns */
	chan_reservation_t r;

	cr_assert(chan_limiter_allow_n(l, t0, 1), "starts full");
	cr_assert(chan_limiter_allow_n(l, t0, 2));
	cr_assert(!chan_limiter_allow_n(l, t0 + 1, 1));
	cr_assert(!chan_limiter_allow_n(l, t0 + INT64_C(1000000000000000000), 1));
	cr_assert(!chan_limiter_allow_n(l, INT64_MAX, 1));
	cr_assert_eq(chan_limiter_reserve(l, t0, 1, INT64_MAX, &r), -ETIMEDOUT);
	cr_assert_eq(chan_limiter_wait(l, 1, chan_ctx_background()), -ETIMEDOUT);
	cr_assert(chan_limiter_tokens(l, t0 + SEC) < 1e-8);

	/* burst/rate = 1e18 ns > 2^56: the clock runs in units of 16 ns, so
	 * explicit times are quantized to 16 ns (see chan/limiter.h). */
	cr_assert(chan_limiter_allow_n(g, t0, 1));
	cr_assert(!chan_limiter_allow_n(g, t0 + INT64_C(1000000000000000000) - 16, 1));
	cr_assert_eq(chan_limiter_reserve(g, t0, 1, INT64_C(1000000000000000000) + 16, &r), 0);
	cr_assert_geq(r.act_at_ns, t0 + INT64_C(1000000000000000000) - 15);
	cr_assert_leq(r.act_at_ns, t0 + INT64_C(1000000000000000000) + 16);
	chan_limiter_destroy(l);
	chan_limiter_destroy(g);
}

Test(limiter, huge_n_and_huge_burst)
{
	chan_limiter_t *l = mk(10, 5);
	chan_limiter_t *b = mk(1e9, SIZE_MAX);
	chan_reservation_t r;

	cr_assert(!chan_limiter_allow_n(l, t0, SIZE_MAX));
	cr_assert_eq(chan_limiter_reserve(l, t0, SIZE_MAX, INT64_MAX, &r), -EINVAL);
	cr_assert_eq(chan_limiter_wait(l, SIZE_MAX, chan_ctx_background()), -EINVAL);
	cr_assert(near(chan_limiter_tokens(l, t0), 5));
	cr_assert(chan_limiter_allow_n(b, t0, (size_t)1 << 50));
	cr_assert(chan_limiter_allow_n(b, t0, (size_t)1 << 50));
	cr_assert(!chan_limiter_allow_n(b, t0, SIZE_MAX));
	chan_limiter_destroy(l);
	chan_limiter_destroy(b);
}

Test(limiter, time_going_backwards_counts_as_no_time)
{
	chan_limiter_t *l = mk(10, 3);

	cr_assert(chan_limiter_allow_n(l, tt(1), 1));
	cr_assert(near(chan_limiter_tokens(l, tt(0)), chan_limiter_tokens(l, tt(1))));
	cr_assert(chan_limiter_allow_n(l, tt(0), 1)); /* two left at t1 */
	cr_assert(chan_limiter_allow_n(l, tt(0), 1));
	cr_assert(!chan_limiter_allow_n(l, tt(0), 1));
	cr_assert(!chan_limiter_allow_n(l, INT64_MIN, 1), "the far past is still t1");
	cr_assert(!chan_limiter_allow_n(l, tt(1), 1), "going back earned nothing");
	cr_assert(chan_limiter_allow_n(l, tt(2), 1));
	cr_assert(!chan_limiter_allow_n(l, tt(2), 1));
	cr_assert(chan_limiter_allow_n(l, INT64_MAX, 3), "the far future: full");
	cr_assert(!chan_limiter_allow_n(l, tt(5), 1));
	chan_limiter_destroy(l);
}

Test(limiter, set_rate_keeps_the_token_count)
{
	chan_limiter_t *l = mk(10, 10);

	cr_assert(chan_limiter_allow_n(l, t0, 7)); /* 3 left at t0 */
	chan_limiter_set_rate(l, 1);
	cr_assert(near(chan_limiter_tokens(l, t0), 3));
	cr_assert(near(chan_limiter_tokens(l, t0 + 2 * SEC), 5), "refills at the new rate");
	chan_limiter_set_rate(l, 0);
	cr_assert(near(chan_limiter_tokens(l, t0 + 100 * SEC), 3), "rate 0: no refill");
	chan_limiter_set_rate(l, 2);
	cr_assert(near(chan_limiter_tokens(l, t0 + SEC), 5));
	chan_limiter_set_rate(l, CHAN_LIMIT_INF);
	cr_assert(chan_limiter_allow_n(l, t0, 1000));
	chan_limiter_set_rate(l, 10);
	cr_assert(near(chan_limiter_tokens(l, t0), 10), "from unlimited: full");
	chan_limiter_set_rate(l, NAN);
	chan_limiter_set_rate(l, -3);
	cr_assert(near(chan_limiter_tokens(l, t0), 10), "bad rates are ignored");
	cr_assert(chan_limiter_allow_n(l, t0, 10));
	cr_assert(!chan_limiter_allow_n(l, t0 + 99 * MS, 1), "still 10/s");
	chan_limiter_destroy(l);
}

Test(limiter, set_burst_keeps_the_token_count_capped)
{
	chan_limiter_t *l = mk(10, 10);
	chan_reservation_t r;

	cr_assert(chan_limiter_allow_n(l, t0, 6)); /* 4 left */
	chan_limiter_set_burst(l, 20);
	cr_assert(near(chan_limiter_tokens(l, t0), 4), "a bigger bucket is not refilled");
	cr_assert(near(chan_limiter_tokens(l, tt(16)), 20));
	chan_limiter_set_burst(l, 2);
	cr_assert(near(chan_limiter_tokens(l, tt(16)), 2), "capped at the new burst");
	cr_assert_eq(chan_limiter_reserve(l, tt(16), 3, INT64_MAX, &r), -EINVAL);
	cr_assert(chan_limiter_allow_n(l, tt(16), 2));
	cr_assert(!chan_limiter_allow_n(l, tt(17) - 1, 1), "the rate is unchanged");
	cr_assert(chan_limiter_allow_n(l, tt(17), 1));
	chan_limiter_set_burst(l, 0);
	cr_assert(!chan_limiter_allow_n(l, tt(100), 1));
	chan_limiter_destroy(l);
}

Test(limiter, far_times_saturate)
{
	chan_limiter_t *l = mk(1e9, 4);
	chan_reservation_t r;

	cr_assert(chan_limiter_allow_n(l, INT64_MIN, 4), "full, whatever the time");
	cr_assert(!chan_limiter_allow_n(l, INT64_MIN, 1));
	cr_assert(chan_limiter_allow_n(l, INT64_MAX, 4));
	cr_assert(!chan_limiter_allow_n(l, INT64_MAX, 1));
	cr_assert_eq(chan_limiter_reserve(l, INT64_MAX, 1, INT64_MAX, &r), -ETIMEDOUT,
		     "past the end of the time line");
	chan_limiter_destroy(l);
}

/* ---- wait ---- */

Test(limiter, wait_is_never_early)
{
	chan_limiter_t *l = chan_limiter_new(20, 1); /* 50 ms a token */
	int64_t before = chan_now();

	/* The bucket is emptied at or after @before, so the i-th token after
	 * it is due at before + i * 50 ms at the earliest. */
	cr_assert(chan_limiter_allow(l));
	for (int i = 1; i <= 4; i++) {
		cr_assert_eq(chan_limiter_wait(l, 1, chan_ctx_background()), 0);
		cr_assert_geq(chan_now(), before + i * 50 * MS, "wait %d returned early", i);
	}
	chan_limiter_destroy(l);
}

Test(limiter, wait_refuses_at_once_what_the_deadline_cannot_cover)
{
	chan_limiter_t *l = chan_limiter_new(0.01, 1); /* 100 s a token */
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 5 * SEC);

	cr_assert(chan_limiter_allow(l));
	cr_assert_eq(chan_limiter_wait(l, 1, ctx), -ETIMEDOUT);
	cr_assert_eq(chan_ctx_err(ctx), 0, "refused before the deadline, not at it");
	cr_assert(chan_limiter_tokens(l, chan_now()) < 0.5, "nothing taken (and nothing given)");
	cr_assert(chan_limiter_tokens(l, chan_now()) > -0.5, "the refused wait took nothing");
	chan_ctx_release(ctx);
	chan_limiter_destroy(l);
}

Test(limiter, wait_ctx_done_first_takes_nothing)
{
	chan_limiter_t *l = chan_limiter_new(1, 3);
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());

	chan_ctx_cancel(ctx);
	cr_assert_eq(chan_limiter_wait(l, 1, ctx), -ECANCELED, "ctx first, though tokens are there");
	cr_assert(chan_limiter_tokens(l, chan_now()) > 2.999);
	cr_assert_eq(chan_limiter_wait(l, 4, ctx), -EINVAL, "arguments before the context");
	cr_assert_eq(chan_limiter_wait(l, 1, NULL), -EINVAL);
	cr_assert_eq(chan_limiter_wait(NULL, 1, ctx), -EINVAL);
	cr_assert_eq(chan_limiter_wait(l, 3, chan_ctx_background()), 0, "tokens there: no wait");
	chan_ctx_release(ctx);
	chan_limiter_destroy(l);
}

static void *cancel_later(void *arg)
{
	struct timespec ts = { 0, 50 * MS };

	nanosleep(&ts, NULL);
	chan_ctx_cancel(arg);
	return NULL;
}

Test(limiter, wait_canceled_while_sleeping_gives_the_tokens_back)
{
	chan_limiter_t *l = chan_limiter_new(0.5, 1); /* 2 s a token */
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	chan_reservation_t r;
	pthread_t th;
	int64_t drained;

	cr_assert(chan_limiter_allow(l));
	drained = chan_now();
	pthread_create(&th, NULL, cancel_later, ctx);
	cr_assert_eq(chan_limiter_wait(l, 1, ctx), -ECANCELED);
	pthread_join(th, NULL);
	/* As if the canceled wait had never been: the next token is the one
	 * due 2 s after the drain, not 4 s. */
	cr_assert_eq(chan_limiter_reserve(l, chan_now(), 1, INT64_MAX, &r), 0);
	cr_assert_lt(r.act_at_ns, drained + 3 * SEC, "the canceled reservation was given back");
	chan_ctx_release(ctx);
	chan_limiter_destroy(l);
}

Test(limiter, wait_all_is_all_or_none)
{
	chan_limiter_t *a = chan_limiter_new(1, 2), *b = chan_limiter_new(0.01, 1);
	chan_limiter_t *ls[] = { a, b };
	chan_ctx_t *ctx = chan_ctx_with_timeout(chan_ctx_background(), 5 * SEC);
	int64_t now;

	cr_assert_eq(chan_limiter_wait_all(ls, 2, 1, ctx), 0, "both have a token");
	now = chan_now();
	cr_assert(chan_limiter_tokens(a, now) < 1.1 && chan_limiter_tokens(b, now) < 0.1);
	cr_assert_eq(chan_limiter_wait_all(ls, 2, 1, ctx), -ETIMEDOUT, "b has none for 100 s");
	now = chan_now();
	cr_assert(chan_limiter_tokens(a, now) > 0.99, "a's reservation was canceled: none taken");
	cr_assert(chan_limiter_tokens(b, now) > -0.5);
	cr_assert_eq(chan_limiter_wait_all(ls, 2, 2, ctx), -EINVAL, "2 > b's burst");
	cr_assert_eq(chan_limiter_wait_all((chan_limiter_t *[]){ a, NULL }, 2, 1, ctx), -EINVAL);
	cr_assert_eq(chan_limiter_wait_all(NULL, 1, 1, ctx), -EINVAL);
	cr_assert_eq(chan_limiter_wait_all(NULL, 0, 1, ctx), 0);
	chan_ctx_release(ctx);
	chan_limiter_destroy(a);
	chan_limiter_destroy(b);
}

Test(limiter, wait_all_canceled_mid_wait_gives_all_back)
{
	chan_limiter_t *a = chan_limiter_new(1, 1), *b = chan_limiter_new(0.5, 1);
	chan_limiter_t *ls[] = { a, b };
	chan_ctx_t *ctx = chan_ctx_with_cancel(chan_ctx_background());
	pthread_t th;
	int64_t now;

	cr_assert(chan_limiter_allow(a) && chan_limiter_allow(b));
	pthread_create(&th, NULL, cancel_later, ctx);
	cr_assert_eq(chan_limiter_wait_all(ls, 2, 1, ctx), -ECANCELED);
	pthread_join(th, NULL);
	now = chan_now();
	cr_assert(chan_limiter_tokens(a, now) > -0.5, "a given back");
	cr_assert(chan_limiter_tokens(b, now) > -0.5, "b given back");
	chan_ctx_release(ctx);
	chan_limiter_destroy(a);
	chan_limiter_destroy(b);
}

Test(limiter, wait_all_many_limiters)
{
	enum { K = 40 };
	chan_limiter_t *ls[K];

	for (int i = 0; i < K; i++)
		ls[i] = chan_limiter_new(1000, 1);
	cr_assert_eq(chan_limiter_wait_all(ls, K, 1, chan_ctx_background()), 0);
	cr_assert_eq(chan_limiter_wait_all(ls, K, 1, chan_ctx_background()), 0, "1 ms later");
	for (int i = 0; i < K; i++)
		chan_limiter_destroy(ls[i]);
}

/* Times years past the base: the base moves (a rebase), nothing else does. */
Test(limiter, clock_rebases_itself_over_years)
{
	chan_limiter_t *l = mk(1e6, 5); /* 1 us a token */
	int64_t year = 365 * 24 * 3600 * SEC;
	chan_reservation_t r;

	for (int y = 1; y <= 40; y += 3) {
		int64_t t = t0 + y * year;

		cr_assert(chan_limiter_allow_n(l, t, 5), "year %d: full", y);
		cr_assert(!chan_limiter_allow_n(l, t + 999, 1), "year %d: 1 us a token", y);
		cr_assert(chan_limiter_allow_n(l, t + 1000, 1));
		cr_assert_eq(chan_limiter_reserve(l, t + 1000, 2, INT64_MAX, &r), 0);
		cr_assert_eq(r.act_at_ns, t + 3000, "year %d: exact after the rebase", y);
		cr_assert(near(chan_limiter_tokens(l, t + 3000), 0));
	}
	chan_limiter_destroy(l);
}
