/* SPDX-License-Identifier: MIT */
/*
 * tests/regress/select_double_collect.c - issue 10, defect 1.
 *
 * A select whose cases are not ready confirms "nothing ready" with a double
 * collect of per-case versions. The versions used to be recorded in one
 * shuffled case order and compared in the next one, so the confirmation
 * succeeded only when the shuffle happened to map every case onto one with
 * the same version: about 1 in n! for channels with distinct histories.
 * chan_try_select() over 12 idle channels then spun for seconds, a timed
 * select overran its timeout by as much, and a blocked select burned a CPU
 * instead of parking. Fresh channels all have version 0, which is why the
 * unit tests never saw it: every channel here has its own history first.
 *
 * Before the fix these tests hang (and the test timeout fails them) or
 * report a selector that used its CPU the whole time it was blocked.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <chan/chan.h>

#include "tests/common/thread_state.h"

#define MS   1000000LL
#define MANY 10000

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/*
 * Channel i of @n has carried a different number of values than every
 * other one, and is left empty (receive cases not ready) or, for
 * capacity-1 rings with @full, full (send cases not ready). Kinds cycle
 * through capacity 1, capacity 4, unbounded and unbuffered.
 */
static chan_t **make_histories(size_t n, bool mixed, bool full)
{
	chan_t **ch = calloc(n, sizeof(*ch));
	long v = 0;

	cr_assert_not_null(ch);
	for (size_t i = 0; i < n; i++) {
		static const size_t caps[] = { 1, 4, CHAN_UNBOUNDED, 0 };
		size_t cap = mixed ? caps[i % 4] : 1;
		size_t hist = 1 + i % 97 + i / 97; /* distinct among neighbours, bounded */

		ch[i] = chan_new_opts(&(chan_opts_t){ .elem_size = sizeof(long), .capacity = cap });
		cr_assert_not_null(ch[i]);
		if (cap == 0) {
			/* An unbuffered channel's version counts arrivals of
			 * waiting partners: time out as many sends. */
			for (size_t k = 0; k < hist % 7 + 1; k++)
				cr_assert_eq(chan_send_timeout(ch[i], &v, 1), -ETIMEDOUT);
			continue;
		}
		for (size_t k = 0; k < hist; k++) {
			cr_assert_eq(chan_send(ch[i], &v), 0);
			cr_assert_eq(chan_recv(ch[i], NULL), 0);
		}
		if (full && cap == 1)
			cr_assert_eq(chan_send(ch[i], &v), 0);
	}
	return ch;
}

static void free_histories(chan_t **ch, size_t n)
{
	for (size_t i = 0; i < n; i++)
		chan_release(ch[i]);
	free(ch);
}

static chan_case_t *recv_cases(chan_t **ch, size_t n, long *got)
{
	chan_case_t *cs = calloc(n, sizeof(*cs));

	cr_assert_not_null(cs);
	for (size_t i = 0; i < n; i++)
		cs[i] = (chan_case_t){ .chan = ch[i], .op = CHAN_OP_RECV, .elem = got };
	return cs;
}

static const size_t sizes[] = { 4, 8, 10, 12, 16, 32, 64 };

Test(select_double_collect, try_select_on_idle_channels_returns)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int mixed = 0; mixed < 2; mixed++) {
			size_t n = sizes[s];
			chan_t **ch = make_histories(n, mixed, false);
			long got;
			chan_case_t *cs = recv_cases(ch, n, &got);

			for (int k = 0; k < 200; k++)
				cr_assert_eq(chan_try_select(cs, n), -EAGAIN, "n=%zu", n);
			free(cs);
			free_histories(ch, n);
		}
	}
}

Test(select_double_collect, try_select_on_full_send_cases_returns)
{
	size_t n = 12;
	chan_t **ch = make_histories(n, false, true);
	chan_case_t cs[12];
	long v = 1;

	for (size_t i = 0; i < n; i++)
		cs[i] = (chan_case_t){ .chan = ch[i], .op = CHAN_OP_SEND, .elem = &v };
	for (int k = 0; k < 200; k++)
		cr_assert_eq(chan_try_select(cs, n), -EAGAIN);
	free_histories(ch, n);
}

Test(select_double_collect, timed_select_parks_and_times_out)
{
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		chan_t **ch = make_histories(n, true, false);
		long got;
		chan_case_t *cs = recv_cases(ch, n, &got);
		int64_t t0 = chan_now(), c0 = thread_cpu_ns();

		cr_assert_eq(chan_select_timeout(cs, n, 200 * MS), -ETIMEDOUT, "n=%zu", n);
		/* One-sided: never early. And a select that waits must park:
		 * spinning for the whole timeout is the defect. */
		cr_assert_geq(chan_now() - t0, 200 * MS);
		cr_assert_lt(thread_cpu_ns() - c0, 100 * MS,
			     "n=%zu: the select spun instead of parking", n);
		cr_assert_eq(chan_select_timeout(cs, n, 10 * MS), -ETIMEDOUT);
		free(cs);
		free_histories(ch, n);
	}
}

struct blocked {
	chan_case_t *cs;
	size_t n;
	int fired;
	_Atomic long tid; /* the selecting thread's, 0 until it is known */
};

static void *select_blocked(void *arg)
{
	struct blocked *b = arg;

	/* Release: pairs with the acquire poll in blocked_select_parks(). */
	atomic_store_explicit(&b->tid, test_gettid(), memory_order_release);
	b->fired = chan_select(b->cs, b->n);
	return NULL;
}

/*
 * A blocked select must sleep in the kernel, not spin: the selecting thread
 * must reach state 'S' (its futex wait) and stay there. The check is on the
 * state, not on CPU time, so that the cost of queueing n cases (large under
 * TSan on a loaded machine) cannot be mistaken for spinning; a select that
 * spins is never 'S' (it would have to sleep for exactly the few samples).
 */
static void blocked_select_parks(size_t n, size_t k)
{
	chan_t **ch = make_histories(n, true, false);
	long got = -1, v = 4242, tid;
	chan_case_t *cs = recv_cases(ch, n, &got);
	struct blocked b = { .cs = cs, .n = n, .fired = -1 };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, select_blocked, &b), 0);
	/* Acquire: pairs with the store in select_blocked(). */
	while ((tid = atomic_load_explicit(&b.tid, memory_order_acquire)) == 0)
		sleep_ms(1);
	/* Ten samples in a row asleep, within 20 s (a bound for the slowest
	 * sanitizer build on a loaded machine, not a performance claim). */
	cr_assert(test_wait_asleep(tid, 10, 20000), "n=%zu: the blocked select never slept (spinning)",
		  n);
	cr_assert_eq(chan_send(ch[k], &v), 0);
	pthread_join(t, NULL);
	cr_assert_eq(b.fired, (int)k, "n=%zu", n);
	cr_assert_eq(got, v);
	cr_assert_eq(cs[k].err, 0);
	free(cs);
	free_histories(ch, n);
}

Test(select_double_collect, blocked_select_parks)
{
	blocked_select_parks(12, 5);
	blocked_select_parks(64, 33);
}

Test(select_double_collect, ten_thousand_cases)
{
	chan_t **ch = make_histories(MANY, true, false);
	long got;
	chan_case_t *cs = recv_cases(ch, MANY, &got);

	cr_assert_eq(chan_try_select(cs, MANY), -EAGAIN);
	cr_assert_eq(chan_select_timeout(cs, MANY, 10 * MS), -ETIMEDOUT);
	free(cs);
	free_histories(ch, MANY);
	/* 7777 % 4 == 1: a capacity-4 ring. */
	blocked_select_parks(MANY, 7777);
	/* 7779 % 4 == 3: an unbuffered channel, the sender pairs with the select. */
	blocked_select_parks(MANY, 7779);
}
