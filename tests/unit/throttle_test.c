/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/throttle_test.c - chan_throttle() (chan/limiter.h): the rate
 * it keeps, its bursts, the stage contract (who closes what, exactly once
 * under cancel, references released), the limiter's edge cases and a
 * limiter shared between two throttles and a third user.
 *
 * Rate checks are one-sided and bracketed: a value's admission by the
 * limiter happened before the receiver's timestamp taken after its receive
 * (and, on an unbuffered output with batch 1, after the receiver started
 * the receive of the value before it), so a slow machine can only make
 * the bound easier to meet. Nothing asserts how fast a value comes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <chan/chan.h>

#include "ring/fault.h"

#define MS INT64_C(1000000)

static _Atomic long out_dropped, in_dropped;

static void count_out_drop(void *elem)
{
	(void)elem;
	atomic_fetch_add_explicit(&out_dropped, 1, memory_order_relaxed);
}

static void count_in_drop(void *elem)
{
	(void)elem;
	atomic_fetch_add_explicit(&in_dropped, 1, memory_order_relaxed);
}

/* A channel of capacity @cap holding 0..n-1, closed if @close. */
static chan_t *values(uint64_t n, size_t cap, bool close, void (*drop)(void *))
{
	chan_t *c = chan_new_opts(
		&(chan_opts_t){.elem_size = sizeof(uint64_t), .capacity = cap, .drop = drop});

	cr_assert_not_null(c);
	for (uint64_t i = 0; i < n; i++)
		cr_assert_eq(chan_send(c, &i), 0);
	if (close)
		chan_close(c);
	return c;
}

/* k admissions by time t (ns after t0) are within burst + rate * t. */
static bool within(size_t k, double burst, double rate, int64_t t0, int64_t t)
{
	return (double)k <= burst + rate * (double)(t - t0) / 1e9 + 1e-9;
}

/* ---- the rate -------------------------------------------------------------- */

static void rate_run(double rate, size_t burst, size_t n, const chan_stage_opts_t *o, bool windows)
{
	int64_t *before = malloc(n * sizeof(*before)), *after = malloc(n * sizeof(*after));
	int64_t t0 = chan_now(); /* before the limiter exists: brackets every admission */
	chan_limiter_t *l = chan_limiter_new(rate, burst);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = values(n, n, true, NULL);
	chan_t *out = chan_throttle(g, in, l, o);
	uint64_t v;

	cr_assert_not_null(out);
	chan_release(in);
	for (size_t i = 0; i < n; i++) {
		before[i] = chan_now();
		cr_assert_eq(chan_recv(out, &v), 0, "value %zu missing", i);
		after[i] = chan_now();
		cr_assert_eq(v, i, "out of order: %llu at %zu", (unsigned long long)v, i);
		cr_assert(within(i + 1, (double)burst, rate, t0, after[i]),
			  "%zu values by %lld ns: over burst %zu + rate %g * t", i + 1,
			  (long long)(after[i] - t0), burst, rate);
	}
	cr_assert_eq(chan_recv(out, &v), -EPIPE, "closes after the last value");
	/* Values i+1..j were admitted inside [before[i], after[j]]. */
	for (size_t i = 0; windows && i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert(within(j - i, (double)burst, rate, before[i], after[j]),
				  "values %zu..%zu in a window of %lld ns", i + 1, j,
				  (long long)(after[j] - before[i]));
	cr_assert_eq(chan_group_wait(g), 0);
	chan_release(out);
	chan_group_destroy(g);
	chan_limiter_destroy(l);
	free(before);
	free(after);
}

Test(throttle, rate_respected_over_every_window)
{
	rate_run(200, 5, 60, NULL, true); /* unbuffered, one at a time */
}

Test(throttle, rate_respected_with_bursts_and_a_buffer)
{
	rate_run(300, 8, 80, &(chan_stage_opts_t){.batch = 8, .out = {.capacity = 4}}, false);
}

/* ---- bursts ---------------------------------------------------------------- */

/*
 * A full bucket of 8 and 8 values ready leave at once (the rate, 1e-3/s,
 * would make any wait a test timeout), and tokens are taken only for values
 * the stage holds: with 3 values in the input, 3 tokens go and 5 stay.
 */
Test(throttle, bursts_forwarded_without_a_wait_and_no_token_taken_ahead, .timeout = 60)
{
	chan_limiter_t *l = chan_limiter_new(1e-3, 8);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = values(3, 32, false, NULL);
	chan_t *out = chan_throttle(
		g, in, l,
		&(chan_stage_opts_t){.batch = 8, .out = {.capacity = 8, .drop = count_out_drop}});
	uint64_t v, buf[8];
	size_t got = 0;
	double tok;

	atomic_store(&out_dropped, 0);
	cr_assert_not_null(out);
	for (uint64_t i = 0; i < 3; i++) {
		cr_assert_eq(chan_recv(out, &v), 0);
		cr_assert_eq(v, i);
	}
	/* The stage holds nothing now: it took 3 tokens, for 3 values. */
	tok = chan_limiter_tokens(l, chan_now());
	cr_assert(tok > 4.99 && tok < 5.01, "tokens taken ahead of values: %g left", tok);
	uint64_t more[17];

	for (uint64_t i = 0; i < 17; i++)
		more[i] = 3 + i;
	for (size_t sent = 0; sent < 17;)
		sent += chan_send_burst(in, more + sent, 17 - sent);
	while (got < 5) {
		size_t k = chan_recv_burst(out, buf, 8);

		for (size_t j = 0; j < k; j++)
			cr_assert_eq(buf[j], 3 + got + j);
		got += k;
	}
	cr_assert_eq(got, 5, "more than the burst");
	cr_assert(chan_limiter_tokens(l, chan_now()) < 1);
	cr_assert_eq(chan_recv_timeout(out, &v, 20 * MS), -ETIMEDOUT, "no token, no value");
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_recv(out, &v), -EPIPE);
	cr_assert_eq(chan_group_wait(g), 0);
	/* The stage held at most the one value it had no token for. */
	cr_assert_leq(atomic_load(&out_dropped), 1);
	cr_assert_eq((long)chan_len(in) + atomic_load(&out_dropped), 12, "a value lost");
	chan_release(out);
	chan_release(in);
	chan_group_destroy(g);
	chan_limiter_destroy(l);
}

/* ---- exactly once ---------------------------------------------------------- */

#define CONS_N 2000
static _Atomic unsigned char seen[CONS_N];

static void mark(uint64_t v, const char *who)
{
	if (v >= CONS_N || atomic_exchange_explicit(&seen[v], 1, memory_order_relaxed) != 0) {
		fprintf(stderr, "value %llu %s twice or invented\n", (unsigned long long)v, who);
		abort();
	}
}

static void mark_out_drop(void *elem)
{
	mark(*(uint64_t *)elem, "dropped by the stage");
	atomic_fetch_add_explicit(&out_dropped, 1, memory_order_relaxed);
}

static void mark_in_drop(void *elem)
{
	mark(*(uint64_t *)elem, "left in the input");
	atomic_fetch_add_explicit(&in_dropped, 1, memory_order_relaxed);
}

/* Cancel at a random point of a random configuration: every value is
 * received, dropped by the stage, or left in the input, exactly once. */
Test(throttle, exactly_once_with_cancel_at_random_points, .timeout = 240)
{
	static const struct {
		double rate;
		size_t burst;
	} lims[] = {{CHAN_LIMIT_INF, 0}, {1e6, 16}, {2e4, 4}, {50, 2}};
	static const size_t caps[] = {0, 1, 8};
	unsigned seed = (unsigned)time(NULL);

	for (int it = 0; it < 40; it++) {
		int li = it % 4;
		size_t batch = 1 + (size_t)(rand_r(&seed) % 16), cap = caps[rand_r(&seed) % 3];
		bool closed = it % 2 == 0;
		/* 0: before the first value; CONS_N + 1 (a closed input only):
		 * never, the stream ends by itself. */
		size_t cancel_at = li == 3 ? (size_t)(rand_r(&seed) % 5)
					   : (size_t)(rand_r(&seed) % (CONS_N + 1));
		long received = 0;
		uint64_t v, last = 0;

		if (closed && rand_r(&seed) % 4 == 0)
			cancel_at = CONS_N + 1;
		memset((void *)seen, 0, sizeof(seen));
		atomic_store(&out_dropped, 0);
		atomic_store(&in_dropped, 0);

		chan_limiter_t *l = chan_limiter_new(lims[li].rate, lims[li].burst);
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_t *in = values(CONS_N, CONS_N, closed, mark_in_drop);
		chan_t *out = chan_throttle(
			g, in, l,
			&(chan_stage_opts_t){.batch = batch,
					     .out = {.capacity = cap, .drop = mark_out_drop}});

		cr_assert_not_null(out);
		chan_release(in); /* the stage's reference keeps it */
		if (cancel_at == 0)
			chan_group_cancel(g, 0);
		while (chan_recv(out, &v) == 0) {
			cr_assert(received == 0 || v > last, "iteration %d: out of order", it);
			last = v;
			mark(v, "received");
			if ((size_t)++received == cancel_at)
				chan_group_cancel(g, 0);
		}
		if ((size_t)received < cancel_at)
			chan_group_cancel(g, 0); /* an open input: stop it */
		cr_assert_eq(chan_group_wait(g), 0, "cancellation is not an error");
		chan_release(out);
		/* Our release of out was its last; the stage's of in came before
		 * chan_group_wait() returned, so in is freed (drop() on what it
		 * held) once the group is gone. */
		chan_group_destroy(g);
		cr_assert_eq(received + atomic_load(&out_dropped) + atomic_load(&in_dropped),
			     CONS_N,
			     "seed %u iteration %d (rate %g batch %zu cap %zu cancel at %zu): "
			     "%ld received + %ld dropped + %ld left",
			     seed, it, lims[li].rate, batch, cap, cancel_at, received,
			     atomic_load(&out_dropped), atomic_load(&in_dropped));
		chan_limiter_destroy(l);
	}
}

/* ---- closing --------------------------------------------------------------- */

Test(throttle, close_propagation)
{
	chan_limiter_t *l = chan_limiter_new(20, 1);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = chan_new(sizeof(uint64_t), 4), *out;
	uint64_t v;

	/* The input closes while the stage waits for a token. */
	out = chan_throttle(g, in, l, NULL);
	for (uint64_t i = 0; i < 3; i++)
		chan_send(in, &i);
	chan_close(in);
	for (uint64_t i = 0; i < 3; i++) {
		cr_assert_eq(chan_recv(out, &v), 0);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(chan_recv(out, &v), -EPIPE);
	chan_release(out);
	chan_release(in);

	/* A cancel with the input open and empty closes the output. */
	in = chan_new(sizeof(uint64_t), 0);
	out = chan_throttle(g, in, l, NULL);
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_recv(out, &v), -EPIPE);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_release(out);
	chan_release(in);
	chan_group_destroy(g);

	/* An output closed by someone else: the stage stops, dropping what it
	 * held; the rest stays in the input. */
	g = chan_group_new(chan_ctx_background());
	atomic_store(&out_dropped, 0);
	in = values(10, 10, true, NULL);
	chan_limiter_t *inf = chan_limiter_new(CHAN_LIMIT_INF, 0);

	out = chan_throttle(g, in, inf, &(chan_stage_opts_t){.out = {.drop = count_out_drop}});
	cr_assert_eq(chan_recv(out, &v), 0);
	cr_assert_eq(chan_recv(out, &v), 0);
	chan_close(out);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(2 + atomic_load(&out_dropped) + (long)chan_len(in), 10);
	chan_release(out);
	chan_release(in);
	chan_group_destroy(g);
	chan_limiter_destroy(inf);
	chan_limiter_destroy(l);
}

/* A deadline on the group's parent: the stage waits for the group to be
 * done (never closing early), then closes; the value it held is dropped and
 * the reservation it slept on is given back. The first value normally
 * passes before the deadline, but a loaded machine (TSan in CI) may not run
 * the stage within 30 ms: then nothing passes, and the same holds. */
Test(throttle, group_deadline_closes_the_output_never_early)
{
	chan_ctx_t *parent;
	int64_t deadline;
	chan_group_t *g;
	chan_limiter_t *l = chan_limiter_new(1, 1); /* the second token: in 1 s */
	chan_t *in = values(2, 2, true, NULL), *out;
	uint64_t v;
	long passed = 0;
	int r;

	atomic_store(&out_dropped, 0); /* before the stage can drop anything */
	parent = chan_ctx_with_timeout(chan_ctx_background(), 30 * MS);
	deadline = chan_ctx_deadline(parent);
	g = chan_group_new(parent);
	out = chan_throttle(g, in, l, &(chan_stage_opts_t){.out = {.drop = count_out_drop}});
	r = chan_recv(out, &v);
	if (r == 0) {
		cr_assert_eq(v, 0);
		passed = 1;
		r = chan_recv(out, &v);
	}
	cr_assert_eq(r, -EPIPE);
	cr_assert_geq(chan_now(), deadline, "closed before the group was done");
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(passed + atomic_load(&out_dropped) + (long)chan_len(in), 2);
	/* The stage's reservation for the second value (due at +1 s) was given
	 * back: the bucket is not in debt (without the cancel it would be at
	 * about -1 token until then). */
	cr_assert_gt(chan_limiter_tokens(l, chan_now()), -0.5, "the reservation was kept");
	chan_release(out);
	chan_release(in);
	chan_group_destroy(g);
	chan_ctx_release(parent);
	chan_limiter_destroy(l);
}

/* ---- the limiter's edge cases ---------------------------------------------- */

Test(throttle, inf_passes_everything)
{
	for (size_t batch = 1; batch <= 64; batch *= 64) {
		chan_limiter_t *l = chan_limiter_new(CHAN_LIMIT_INF, 0);
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_t *in = values(20000, 20000, true, NULL);
		chan_t *out = chan_throttle(
			g, in, l, &(chan_stage_opts_t){.batch = batch, .out = {.capacity = 64}});
		uint64_t v, n = 0;

		chan_release(in);
		while (chan_recv(out, &v) == 0)
			cr_assert_eq(v, n++);
		cr_assert_eq(n, 20000);
		cr_assert_eq(chan_group_wait(g), 0);
		chan_release(out);
		chan_group_destroy(g);
		chan_limiter_destroy(l);
	}
}

Test(throttle, rate_zero_passes_the_burst_then_blocks_until_cancel)
{
	chan_limiter_t *l = chan_limiter_new(0, 5);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = values(10, 10, false, NULL);
	chan_t *out = chan_throttle(
		g, in, l, &(chan_stage_opts_t){.batch = 3, .out = {.drop = count_out_drop}});
	uint64_t v;

	atomic_store(&out_dropped, 0);
	for (uint64_t i = 0; i < 5; i++) {
		cr_assert_eq(chan_recv(out, &v), 0);
		cr_assert_eq(v, i);
	}
	/* One-sided: at rate 0 no sixth token ever comes. */
	cr_assert_eq(chan_recv_timeout(out, &v, 20 * MS), -ETIMEDOUT);
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_recv(out, &v), -EPIPE);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_leq(atomic_load(&out_dropped), 1);
	cr_assert_eq(atomic_load(&out_dropped) + (long)chan_len(in), 5);
	chan_release(out);
	chan_release(in);
	chan_group_destroy(g);
	chan_limiter_destroy(l);
}

Test(throttle, burst_zero_passes_nothing)
{
	chan_limiter_t *l = chan_limiter_new(1000, 0);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = values(3, 3, true, NULL);
	chan_t *out = chan_throttle(g, in, l, NULL);
	uint64_t v;

	cr_assert_eq(chan_recv_timeout(out, &v, 20 * MS), -ETIMEDOUT);
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_recv(out, &v), -EPIPE);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_release(out);
	chan_release(in);
	chan_group_destroy(g);
	chan_limiter_destroy(l);
}

/* A shared limiter changed by another user: the parked stage sees it. */
Test(throttle, resumes_after_set_rate_on_a_stalled_limiter)
{
	chan_limiter_t *l = chan_limiter_new(0, 2);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = values(6, 6, true, NULL);
	chan_t *out = chan_throttle(g, in, l, NULL);
	uint64_t v, n = 0;

	for (; n < 2; n++) {
		cr_assert_eq(chan_recv(out, &v), 0);
		cr_assert_eq(v, n);
	}
	cr_assert_eq(chan_recv_timeout(out, &v, 10 * MS), -ETIMEDOUT);
	chan_limiter_set_rate(l, 1000);
	while (chan_recv(out, &v) == 0)
		cr_assert_eq(v, n++);
	cr_assert_eq(n, 6);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_release(out);
	chan_release(in);
	chan_group_destroy(g);
	chan_limiter_destroy(l);
}

/* ---- one limiter, three users ---------------------------------------------- */

#define SHARED_EACH  30
#define SHARED_WAITS 20

struct waiter {
	chan_limiter_t *l;
	int64_t stamps[SHARED_WAITS];
	int rc;
};

static void *wait_user(void *arg)
{
	struct waiter *w = arg;

	for (int i = 0; i < SHARED_WAITS; i++) {
		w->rc |= chan_limiter_wait(w->l, 1, chan_ctx_background());
		w->stamps[i] = chan_now();
	}
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

Test(throttle, shared_limiter_between_two_throttles_and_a_waiter)
{
	const double rate = 300;
	const size_t burst = 4;
	int64_t t0 = chan_now();
	chan_limiter_t *l = chan_limiter_new(rate, burst);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in[2], *out[2];
	int64_t stamps[2 * SHARED_EACH + SHARED_WAITS];
	uint64_t next[2] = {0, 0};
	struct waiter w = {.l = l};
	size_t k = 0;
	pthread_t th;

	for (int i = 0; i < 2; i++) {
		in[i] = values(SHARED_EACH, SHARED_EACH, true, NULL);
		out[i] = chan_throttle(g, in[i], l, &(chan_stage_opts_t){.batch = 2});
		cr_assert_not_null(out[i]);
		chan_release(in[i]);
	}
	pthread_create(&th, NULL, wait_user, &w);
	uint64_t v;
	chan_case_t cs[2] = {
		{.chan = out[0], .op = CHAN_OP_RECV, .elem = &v},
		{.chan = out[1], .op = CHAN_OP_RECV, .elem = &v},
	};

	while (k < 2 * SHARED_EACH) {
		int r = chan_select(cs, 2);

		cr_assert(r == 0 || r == 1);
		if (cs[r].err == -EPIPE) {
			cr_assert_eq(next[r], SHARED_EACH, "throttle %d closed early", r);
			cs[r].chan = NULL;
			continue;
		}
		stamps[k++] = chan_now();
		cr_assert_eq(v, next[r]++, "throttle %d out of order", r);
	}
	pthread_join(th, NULL);
	cr_assert_eq(w.rc, 0);
	memcpy(stamps + k, w.stamps, sizeof(w.stamps));
	k += SHARED_WAITS;
	qsort(stamps, k, sizeof(stamps[0]), cmp_i64);
	for (size_t i = 0; i < k; i++)
		cr_assert(within(i + 1, (double)burst, rate, t0, stamps[i]),
			  "%zu admissions by %lld ns: the users together beat the limiter", i + 1,
			  (long long)(stamps[i] - t0));
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(chan_recv(out[i], NULL), -EPIPE);
		chan_release(out[i]);
	}
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
	chan_limiter_destroy(l);
}

/* ---- construction ---------------------------------------------------------- */

/* An input whose values are counted when dropped, so that a failed
 * construction that kept a reference shows: see released_by_us(). */
static chan_t *counted_input(void)
{
	return chan_new_opts(&(chan_opts_t){.elem_size = 8, .capacity = 4, .drop = count_in_drop});
}

/* Send one value into @in and drop our reference: true if that freed it
 * (ours was the only one, so its value went to drop()). */
static bool released_by_us(chan_t *in)
{
	uint64_t v = 1;

	atomic_store(&in_dropped, 0);
	chan_send(in, &v);
	chan_release(in);
	return atomic_load(&in_dropped) == 1;
}

Test(throttle, bad_input_errno)
{
	chan_limiter_t *l = chan_limiter_new(10, 1);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = counted_input();

#define EXPECT_NULL(call, e)                                       \
	do {                                                       \
		errno = 0;                                         \
		cr_assert_null(call, #call);                       \
		cr_assert_eq(errno, e, #call ": errno %d", errno); \
	} while (0)
	EXPECT_NULL(chan_throttle(NULL, in, l, NULL), EINVAL);
	EXPECT_NULL(chan_throttle(g, NULL, l, NULL), EINVAL);
	EXPECT_NULL(chan_throttle(g, in, NULL, NULL), EINVAL);
	EXPECT_NULL(chan_throttle(g, in, l, &(chan_stage_opts_t){.out = {.elem_size = 4}}), EINVAL);
	EXPECT_NULL(chan_throttle(g, in, l,
				  &(chan_stage_opts_t){.out = {.capacity = CHAN_CAPACITY_MAX + 2}}),
		    EINVAL);
	chan_group_cancel(g, 0);
	EXPECT_NULL(chan_throttle(g, in, NULL, NULL), EINVAL); /* arguments before the ctx */
	EXPECT_NULL(chan_throttle(g, in, l, NULL), ECANCELED);
#undef EXPECT_NULL
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert(released_by_us(in), "a failed construction kept a reference");
	chan_group_destroy(g);
	chan_limiter_destroy(l);
}

/* Each test runs in a fresh process: the stage's task is a new thread. */
Test(throttle, task_that_cannot_start)
{
	chan_limiter_t *l = chan_limiter_new(10, 1);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_t *in = counted_input();

	chan__fault_arm(CHAN__FAULT_THREAD, 1);
	errno = 0;
	cr_assert_null(chan_throttle(g, in, l, NULL));
	cr_assert_eq(errno, EAGAIN);
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	cr_assert(released_by_us(in), "nothing retained");
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
	chan_limiter_destroy(l);
}
