/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/group_test.c - errgroup (chan_group_*) with x/sync's semantics,
 * and hedged requests (chan_first).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "ring/fault.h"

#define MS 1000000LL

static int ret_arg(chan_ctx_t *ctx, void *arg)
{
	(void)ctx;
	return (int)(intptr_t)arg;
}

/* Blocks until its context is done; returns what it saw. */
static _Atomic int saw_cancel;
static int wait_done(chan_ctx_t *ctx, void *arg)
{
	(void)arg;
	chan_recv(chan_ctx_done(ctx), NULL);
	atomic_fetch_add(&saw_cancel, 1);
	return chan_ctx_err(ctx);
}

static _Atomic int ran;
static int count_run(chan_ctx_t *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	atomic_fetch_add(&ran, 1);
	return 0;
}

Test(group, go_and_wait)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());

	cr_assert_not_null(g);
	atomic_store(&ran, 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(chan_group_go(g, count_run, NULL), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&ran), 100);
	/* x/sync: wait cancels the context; a later go never runs fn. */
	cr_assert_eq(chan_ctx_err(chan_group_ctx(g)), -ECANCELED);
	cr_assert_eq(chan_group_go(g, count_run, NULL), -ECANCELED);
	cr_assert_eq(chan_group_try_go(g, count_run, NULL), -ECANCELED);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&ran), 100);
	chan_group_destroy(g);
}

Test(group, first_error_wins_and_cancels_the_others)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());

	atomic_store(&saw_cancel, 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(chan_group_go(g, wait_done, NULL), 0);
	cr_assert_eq(chan_group_go(g, ret_arg, (void *)(intptr_t)-EIO), 0);
	/* The waiters return -ECANCELED after the -EIO: it stays first. */
	cr_assert_eq(chan_group_wait(g), -EIO);
	cr_assert_eq(atomic_load(&saw_cancel), 4);
	chan_group_destroy(g);
}

Test(group, cancel_records_only_negative_errors)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());

	chan_group_cancel(g, 0);
	cr_assert_eq(chan_ctx_err(chan_group_ctx(g)), -ECANCELED);
	chan_group_cancel(g, -ETIME);
	chan_group_cancel(g, -EIO);
	cr_assert_eq(chan_group_wait(g), -ETIME);
	chan_group_destroy(g);

	g = chan_group_new(chan_ctx_background());
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
}

Test(group, canceled_group_never_runs_fn)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());

	atomic_store(&ran, 0);
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_group_go(g, count_run, NULL), -ECANCELED);
	cr_assert_eq(chan_group_try_go(g, count_run, NULL), -ECANCELED);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&ran), 0);
	chan_group_destroy(g);
}

Test(group, parent_cancel_cancels_the_group)
{
	chan_ctx_t *parent = chan_ctx_with_cancel(chan_ctx_background());
	chan_group_t *g = chan_group_new(parent);

	atomic_store(&saw_cancel, 0);
	cr_assert_eq(chan_group_go(g, wait_done, NULL), 0);
	chan_ctx_cancel(parent);
	/* The task's -ECANCELED is a task's error: x/sync keeps it. */
	cr_assert_eq(chan_group_wait(g), -ECANCELED);
	cr_assert_eq(atomic_load(&saw_cancel), 1);
	chan_group_destroy(g);
	chan_ctx_release(parent);

	/* A group made from a canceled parent starts canceled. */
	parent = chan_ctx_with_cancel(chan_ctx_background());
	chan_ctx_cancel(parent);
	g = chan_group_new(parent);
	cr_assert_not_null(g);
	cr_assert_eq(chan_group_go(g, count_run, NULL), -ECANCELED);
	chan_group_destroy(g);
	chan_ctx_release(parent);
}

/* A task that holds its slot until it receives from gate. */
struct gated {
	chan_t *gate;
	_Atomic int running, max_running, started;
};

static int gated_task(chan_ctx_t *ctx, void *arg)
{
	struct gated *s = arg;
	int now = atomic_fetch_add(&s->running, 1) + 1, max = atomic_load(&s->max_running);

	while (now > max && !atomic_compare_exchange_weak(&s->max_running, &max, now))
		;
	atomic_fetch_add(&s->started, 1);
	chan_case_t cs[] = {
		{ .chan = s->gate, .op = CHAN_OP_RECV },
		{ .chan = chan_ctx_done(ctx), .op = CHAN_OP_RECV },
	};
	chan_select(cs, 2);
	atomic_fetch_sub(&s->running, 1);
	return 0;
}

Test(group, limit_bounds_running_tasks)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct gated s = { .gate = chan_new(1, 0) };
	const char one = 1;

	cr_assert_eq(chan_group_set_limit(g, 2), 0);
	cr_assert_eq(chan_group_go(g, gated_task, &s), 0);
	cr_assert_eq(chan_group_try_go(g, gated_task, &s), 0);
	cr_assert_eq(chan_group_try_go(g, gated_task, &s), -EAGAIN, "try_go past the limit");
	cr_assert_eq(chan_group_set_limit(g, 5), -EBUSY, "set_limit with tasks running");
	/* Release them one by one, starting a new one each time: chan_group_go
	 * blocks until a slot is free, so never more than 2 run. */
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(chan_send(s.gate, &one), 0);
		cr_assert_eq(chan_group_go(g, gated_task, &s), 0);
	}
	cr_assert_eq(chan_send(s.gate, &one), 0);
	cr_assert_eq(chan_send(s.gate, &one), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&s.started), 22);
	cr_assert_leq(atomic_load(&s.max_running), 2);
	cr_assert_eq(chan_group_set_limit(g, -1), 0, "no task runs: the limit may change");
	chan_group_destroy(g);
	chan_release(s.gate);
}

struct blocked_go {
	chan_group_t *g;
	int r;
};

static void *go_at_limit(void *arg)
{
	struct blocked_go *b = arg;

	b->r = chan_group_go(b->g, count_run, NULL);
	return NULL;
}

/* A chan_group_go() waiting at the limit wakes with -ECANCELED when the
 * group is canceled from outside (its parent), and fn never runs. */
Test(group, go_blocked_at_limit_returns_on_cancel)
{
	chan_ctx_t *parent = chan_ctx_with_cancel(chan_ctx_background());
	chan_group_t *g = chan_group_new(parent);
	struct blocked_go b = { .g = g, .r = 1 };
	pthread_t t;

	atomic_store(&ran, 0);
	cr_assert_eq(chan_group_set_limit(g, 0), 0);
	cr_assert_eq(chan_group_try_go(g, count_run, NULL), -EAGAIN);
	pthread_create(&t, NULL, go_at_limit, &b);
	chan_ctx_cancel(parent);
	pthread_join(t, NULL);
	cr_assert_eq(b.r, -ECANCELED);
	cr_assert_eq(atomic_load(&ran), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	chan_group_destroy(g);
	chan_ctx_release(parent);
}

Test(group, bad_arguments)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());

	errno = 0;
	cr_assert_null(chan_group_new(NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(chan_group_ctx(NULL));
	cr_assert_eq(chan_group_go(NULL, count_run, NULL), -EINVAL);
	cr_assert_eq(chan_group_go(g, NULL, NULL), -EINVAL);
	cr_assert_eq(chan_group_try_go(NULL, count_run, NULL), -EINVAL);
	cr_assert_eq(chan_group_try_go(g, NULL, NULL), -EINVAL);
	cr_assert_eq(chan_group_set_limit(NULL, 1), -EINVAL);
	cr_assert_eq(chan_group_wait(NULL), -EINVAL);
	chan_group_cancel(NULL, -EIO);
	chan_group_destroy(NULL);
	/* Bad arguments come before the context. */
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_group_go(g, NULL, NULL), -EINVAL);
	chan_group_destroy(g);
}

Test(group, destroy_cancels_and_joins)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());

	atomic_store(&saw_cancel, 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(chan_group_go(g, wait_done, NULL), 0);
	chan_group_destroy(g);
	cr_assert_eq(atomic_load(&saw_cancel), 8);
}

struct spawner {
	chan_group_t *g;
	int depth;
};

static int spawn_more(chan_ctx_t *ctx, void *arg)
{
	struct spawner *s = arg;

	(void)ctx;
	atomic_fetch_add(&ran, 1);
	if (s->depth > 0) {
		s->depth--;
		return chan_group_go(s->g, spawn_more, s);
	}
	return 0;
}

Test(group, tasks_start_tasks)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct spawner s = { .g = g, .depth = 50 };

	atomic_store(&ran, 0);
	cr_assert_eq(chan_group_go(g, spawn_more, &s), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&ran), 51);
	chan_group_destroy(g);
}

/* Many groups created, used and destroyed while their parent is canceled
 * at random points: no task left behind, no crash (ASan/TSan). */
Test(group, churn_with_parent_cancel)
{
	for (int i = 0; i < 300; i++) {
		chan_ctx_t *parent = chan_ctx_with_cancel(chan_ctx_background());
		chan_group_t *g = chan_group_new(parent);

		atomic_store(&saw_cancel, 0);
		chan_group_set_limit(g, 1 + i % 3);
		int started = 0;

		for (int k = 0; k < 3; k++)
			if (chan_group_try_go(g, wait_done, NULL) == 0)
				started++;
		if (i % 2)
			chan_ctx_cancel(parent);
		else
			chan_group_cancel(g, -EIO);
		chan_group_destroy(g);
		cr_assert_eq(atomic_load(&saw_cancel), started);
		chan_ctx_release(parent);
	}
}

/* Every allocation of chan_group_new() that can fail: NULL + ENOMEM and
 * nothing leaked (ASan), or a group that works. */
Test(group, new_out_of_memory)
{
	for (long k = 1; k <= 8; k++) {
		chan__fault_arm(CHAN__FAULT_ALLOC, k);
		errno = 0;
		chan_group_t *g = chan_group_new(chan_ctx_background());

		chan__fault_arm(CHAN__FAULT_ALLOC, 0);
		if (!g) {
			cr_assert_eq(errno, ENOMEM);
			continue;
		}
		atomic_store(&ran, 0);
		cr_assert_eq(chan_group_go(g, count_run, NULL), 0);
		cr_assert_eq(chan_group_wait(g), 0);
		cr_assert_eq(atomic_load(&ran), 1);
		chan_group_destroy(g);
	}
}

/* A task that cannot be started: -EAGAIN, fn never runs, the slot is
 * given back (the limit still admits the next one). */
Test(group, go_without_a_thread)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());

	atomic_store(&ran, 0);
	cr_assert_eq(chan_group_set_limit(g, 1), 0);
	chan__fault_arm(CHAN__FAULT_THREAD, 1); /* a fresh process: chan_go must spawn */
	cr_assert_eq(chan_group_go(g, count_run, NULL), -EAGAIN);
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	cr_assert_eq(chan_group_try_go(g, count_run, NULL), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&ran), 1);
	chan_group_destroy(g);
}

/* ---- chan_first --------------------------------------------------------- */

struct replica_arg {
	int64_t delay_ns; /* then return ret, unless canceled first */
	int ret;
	_Atomic int *running;
	_Atomic int *started;
	int64_t started_at;
};

static int replica(chan_ctx_t *ctx, void *arg)
{
	struct replica_arg *a = arg;
	int r;

	a->started_at = chan_now();
	atomic_fetch_add(a->started, 1);
	atomic_fetch_add(a->running, 1);
	chan_t *t = chan_after(a->delay_ns);
	chan_case_t cs[] = {
		{ .chan = t, .op = CHAN_OP_RECV },
		{ .chan = chan_ctx_done(ctx), .op = CHAN_OP_RECV },
	};
	r = chan_select(cs, 2) == 0 ? a->ret : chan_ctx_err(ctx);
	chan_release(t);
	atomic_fetch_sub(a->running, 1);
	return r;
}

Test(first, fastest_wins_and_losers_are_joined)
{
	_Atomic int running = 0, started = 0;
	struct replica_arg a[3] = {
		{ 10000 * MS, 0, &running, &started, 0 },
		{ 1 * MS, 0, &running, &started, 0 },
		{ 10000 * MS, 0, &running, &started, 0 },
	};
	void *args[] = { &a[0], &a[1], &a[2] };
	size_t w = 99;

	cr_assert_eq(chan_first(chan_ctx_background(), 3, replica, args, 0, &w), 0);
	cr_assert_eq(w, 1);
	cr_assert_eq(atomic_load(&started), 3);
	cr_assert_eq(atomic_load(&running), 0, "a loser still runs after chan_first returned");
}

Test(first, hedge_delays_later_replicas_and_skips_them_after_a_win)
{
	_Atomic int running = 0, started = 0;
	struct replica_arg a[3] = {
		{ 0, 0, &running, &started, 0 },
		{ 0, 0, &running, &started, 0 },
		{ 0, 0, &running, &started, 0 },
	};
	void *args[] = { &a[0], &a[1], &a[2] };
	size_t w = 99;

	/* Replica 0 succeeds at once: the others, due in 10 s, never start. */
	cr_assert_eq(chan_first(chan_ctx_background(), 3, replica, args, 10000 * MS, &w), 0);
	cr_assert_eq(w, 0);
	cr_assert_eq(atomic_load(&started), 1);

	/* Replica 0 is slow: replica 1 starts at hedge_ns, never earlier. */
	atomic_store(&started, 0);
	a[0].delay_ns = 10000 * MS;
	a[1].delay_ns = 0;
	int64_t t0 = chan_now();

	cr_assert_eq(chan_first(chan_ctx_background(), 3, replica, args, 20 * MS, &w), 0);
	cr_assert_eq(w, 1);
	cr_assert_geq(a[1].started_at - t0, 20 * MS, "replica 1 started early");
	cr_assert_eq(atomic_load(&running), 0);
}

Test(first, all_fail_gives_the_first_error_in_time)
{
	_Atomic int running = 0, started = 0;
	struct replica_arg a[3] = {
		{ 200 * MS, -EIO, &running, &started, 0 },
		{ 0, -ENOENT, &running, &started, 0 },
		{ 400 * MS, -EPERM, &running, &started, 0 },
	};
	void *args[] = { &a[0], &a[1], &a[2] };
	size_t w = 99;

	cr_assert_eq(chan_first(chan_ctx_background(), 3, replica, args, 0, &w), -ENOENT);
	cr_assert_eq(w, 99, "winner written on failure");
	cr_assert_eq(atomic_load(&started), 3);
	cr_assert_eq(atomic_load(&running), 0);
}

Test(first, ctx_and_bad_arguments)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	_Atomic int running = 0, started = 0;
	struct replica_arg a = { 0, 0, &running, &started, 0 };
	void *args[] = { &a };
	size_t w = 99;

	cr_assert_eq(chan_first(NULL, 1, replica, args, 0, &w), -EINVAL);
	cr_assert_eq(chan_first(c, 0, replica, args, 0, &w), -EINVAL);
	cr_assert_eq(chan_first(c, 1, NULL, args, 0, &w), -EINVAL);
	chan_ctx_cancel(c);
	cr_assert_eq(chan_first(c, 1, NULL, args, 0, &w), -EINVAL, "args before ctx");
	cr_assert_eq(chan_first(c, 1, replica, args, 0, &w), -ECANCELED);
	cr_assert_eq(atomic_load(&started), 0);
	cr_assert_eq(w, 99);
	chan_ctx_release(c);
}

struct canceler {
	chan_ctx_t *ctx;
	_Atomic int *started;
};

/* Cancels once replica 0 runs (so the test does not depend on timing). */
static void *cancel_when_started(void *arg)
{
	struct canceler *k = arg;

	while (atomic_load(k->started) == 0)
		sched_yield();
	chan_ctx_cancel(k->ctx);
	return NULL;
}

Test(first, canceled_mid_way_stops_starting_and_joins)
{
	chan_ctx_t *c = chan_ctx_with_cancel(chan_ctx_background());
	_Atomic int running = 0, started = 0;
	struct replica_arg a[3] = {
		{ 10000 * MS, 0, &running, &started, 0 },
		{ 10000 * MS, 0, &running, &started, 0 },
		{ 10000 * MS, 0, &running, &started, 0 },
	};
	void *args[] = { &a[0], &a[1], &a[2] };
	struct canceler k = { c, &started };
	pthread_t t;
	size_t w = 99;

	pthread_create(&t, NULL, cancel_when_started, &k);
	cr_assert_eq(chan_first(c, 3, replica, args, 10000 * MS, &w), -ECANCELED);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&started), 1);
	cr_assert_eq(atomic_load(&running), 0);
	cr_assert_eq(w, 99);
	chan_ctx_release(c);
}
