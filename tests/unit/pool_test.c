/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/pool_test.c - the worker pool of chan/pool.h: every accepted job
 * runs exactly once (also after a cancel, and under many submitters with a
 * cancel or a close at a random point), a failed submit never runs its job,
 * the errnos of each state, blocking and its ctx errors, the group's error
 * and limit, concurrency never above the workers, and clean teardown.
 *
 * "A submitter is blocked" is observed, never slept for: the test waits
 * until the pool's queue counts a queued sender (its waiter count, through
 * the private chan__pool_queue()); "a worker is busy" is a job that counted
 * itself as started and waits on a gate channel.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <chan/chan.h>

#include "core/chan_pvt.h" /* the queue's waiter counts */
#include "patterns/pool_pvt.h"
#include "ring/compiler.h"
#include "ring/fault.h"

#define MS INT64_C(1000000)

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll an observable condition (1 ms steps, 20 s at most). */
#define WAIT_FOR(cond, what)                                                   \
	do {                                                                   \
		for (long ms_ = 0; !(cond); ms_++) {                           \
			cr_assert_lt(ms_, 20000, "never happened: %s", what); \
			sleep_ms(1);                                           \
		}                                                              \
	} while (0)

/* Wait until @n submitters are queued on the pool's full queue. */
static void wait_blocked_submitters(chan_pool_t *p, uint32_t n)
{
	chan_t *q = chan__pool_queue(p);

	WAIT_FOR(atomic_load(&q->sendq.nwait) >= n, "the submitter queued on the full queue");
}

/* ---- jobs ----------------------------------------------------------------- */

/* A job that counts itself. */
struct tally {
	_Atomic long ran;
	_Atomic long saw_canceled;
};

static int count_job(chan_ctx_t *ctx, void *arg)
{
	struct tally *t = arg;

	if (chan_ctx_err(ctx) != 0)
		atomic_fetch_add(&t->saw_canceled, 1);
	atomic_fetch_add(&t->ran, 1);
	return 0;
}

/* A job that occupies its worker until the gate is closed. */
struct gate {
	chan_t *open; /* closed to let the jobs go */
	_Atomic int started, ran;
	int ret;
};

static void gate_init(struct gate *gt, int ret)
{
	gt->open = chan_new(1, 0);
	atomic_init(&gt->started, 0);
	atomic_init(&gt->ran, 0);
	gt->ret = ret;
	cr_assert_not_null(gt->open);
}

static int gated_job(chan_ctx_t *ctx, void *arg)
{
	struct gate *gt = arg;

	(void)ctx;
	atomic_fetch_add(&gt->started, 1);
	chan_recv(gt->open, NULL); /* -EPIPE once the gate is open */
	atomic_fetch_add(&gt->ran, 1);
	return gt->ret;
}

/* Occupy the pool's only worker with a gated job and fill its queue of @cap. */
static void fill(chan_pool_t *p, struct gate *gt, size_t cap, struct tally *t)
{
	cr_assert_eq(chan_pool_submit(p, gated_job, gt, chan_ctx_background()), 0);
	WAIT_FOR(atomic_load(&gt->started) == 1, "the gated job started");
	for (size_t i = 0; i < cap; i++)
		cr_assert_eq(chan_pool_try_submit(p, count_job, t), 0);
	cr_assert_eq(chan_pool_try_submit(p, count_job, t), -EAGAIN, "the queue is full");
}

/* A submit on its own thread. */
struct submitter {
	chan_pool_t *p;
	chan_ctx_t *ctx;
	chan_task_fn fn;
	void *arg;
	int rc;
	int64_t returned_at;
	_Atomic int done;
	pthread_t th;
};

static void *submit_main(void *arg)
{
	struct submitter *s = arg;

	s->rc = chan_pool_submit(s->p, s->fn, s->arg, s->ctx ? s->ctx : chan_ctx_background());
	s->returned_at = chan_now();
	atomic_store(&s->done, 1);
	return NULL;
}

static void start_submitter(struct submitter *s, chan_pool_t *p, chan_ctx_t *ctx,
			    chan_task_fn fn, void *arg)
{
	*s = (struct submitter){ .p = p, .ctx = ctx, .fn = fn, .arg = arg };
	cr_assert_eq(pthread_create(&s->th, NULL, submit_main, s), 0);
}

/* ---- basics --------------------------------------------------------------- */

/* Records the order in which jobs start. */
struct order {
	_Atomic int pos;
	int seen[1000];
	struct order_item {
		struct order *o;
		int id;
	} items[1000];
};

static int order_job(chan_ctx_t *ctx, void *arg)
{
	struct order_item *it = arg;

	(void)ctx;
	it->o->seen[atomic_fetch_add(&it->o->pos, 1)] = it->id;
	return 0;
}

Test(pool, close_drains_every_job_once_in_fifo_order)
{
	static struct order o;
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 1, 8); /* one worker: starts in queue order */
	struct tally t = { 0 };

	cr_assert_not_null(p);
	for (int i = 0; i < 1000; i++) {
		o.items[i] = (struct order_item){ .o = &o, .id = i };
		cr_assert_eq(chan_pool_submit(p, order_job, &o.items[i], chan_ctx_background()), 0);
	}
	cr_assert_eq(chan_pool_close(p), 0);
	cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), -EPIPE);
	cr_assert_eq(chan_pool_try_submit(p, count_job, &t), -EPIPE);
	cr_assert_eq(chan_pool_close(p), -EPIPE, "closing twice");
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&o.pos), 1000, "close drains what was queued");
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(o.seen[i], i, "job %d started %dth", o.seen[i], i);
	cr_assert_eq(chan__pool_workers(p), 0);
	/* wait canceled the group (x/sync); closed still wins. */
	cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), -EPIPE);
	cr_assert_eq(atomic_load(&t.ran), 0);
	chan_pool_destroy(p);
	chan_group_destroy(g);
}

Test(pool, many_workers_run_every_job)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 8, 8);
	struct tally t = { 0 };

	for (int i = 0; i < 5000; i++)
		cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), 0);
	cr_assert_eq(chan_pool_close(p), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&t.ran), 5000);
	cr_assert_eq(atomic_load(&t.saw_canceled), 0);
	chan_pool_destroy(p);
	chan_group_destroy(g);
}

static int ret_arg(chan_ctx_t *ctx, void *arg)
{
	(void)ctx;
	return (int)(intptr_t)arg;
}

Test(pool, bad_arguments_and_canceled_group)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 1, 1);
	chan_ctx_t *done = chan_ctx_with_cancel(chan_ctx_background());

	cr_assert_not_null(p);
	errno = 0;
	cr_assert_null(chan_pool_new(NULL, 1, 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_pool_new(g, 0, 1));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(chan_pool_new(g, 1, CHAN_CAPACITY_MAX + 1));
	cr_assert_eq(errno, EINVAL);

	chan_ctx_cancel(done);
	cr_assert_eq(chan_pool_submit(NULL, ret_arg, NULL, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_pool_submit(p, NULL, NULL, chan_ctx_background()), -EINVAL);
	cr_assert_eq(chan_pool_submit(p, ret_arg, NULL, NULL), -EINVAL);
	cr_assert_eq(chan_pool_submit(p, NULL, NULL, done), -EINVAL, "arguments before the ctx");
	cr_assert_eq(chan_pool_submit(p, ret_arg, NULL, done), -ECANCELED,
		     "a done ctx fails first, though there is room");
	cr_assert_eq(chan_pool_try_submit(NULL, ret_arg, NULL), -EINVAL);
	cr_assert_eq(chan_pool_try_submit(p, NULL, NULL), -EINVAL);
	cr_assert_eq(chan_pool_close(NULL), -EINVAL);
	chan_pool_destroy(NULL);

	chan_group_cancel(g, 0);
	errno = 0;
	cr_assert_null(chan_pool_new(g, 1, 1));
	cr_assert_eq(errno, ECANCELED);
	errno = 0;
	cr_assert_null(chan_pool_new(g, 0, 1));
	cr_assert_eq(errno, EINVAL, "arguments before the group's state");
	cr_assert_eq(chan_group_wait(g), 0, "cancel stops the pool's workers");
	cr_assert_eq(chan_pool_close(p), 0, "a cancel alone does not close");
	cr_assert_eq(chan_pool_close(p), -EPIPE);
	chan_pool_destroy(p);
	chan_ctx_release(done);
	chan_group_destroy(g);
}

Test(pool, queue_kinds)
{
	static const size_t caps[] = { 0, 1, 2, 1000, CHAN_UNBOUNDED };

	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		for (unsigned w = 1; w <= 3; w += 2) {
			chan_group_t *g = chan_group_new(chan_ctx_background());
			chan_pool_t *p = chan_pool_new(g, w, caps[k]);
			struct tally t = { 0 };

			cr_assert_not_null(p, "cap %zu workers %u", caps[k], w);
			cr_assert_eq(chan_cap(chan__pool_queue(p)), caps[k]);
			cr_assert_eq(chan__pool_workers(p), w);
			for (int i = 0; i < 500; i++)
				cr_assert_eq(chan_pool_submit(p, count_job, &t,
							      chan_ctx_background()), 0);
			cr_assert_eq(chan_pool_close(p), 0);
			cr_assert_eq(chan_group_wait(g), 0);
			cr_assert_eq(atomic_load(&t.ran), 500, "cap %zu workers %u", caps[k], w);
			chan_pool_destroy(p);
			chan_group_destroy(g);
		}
	}
}

/* ---- full queue: try_submit, blocking, ctx errors ------------------------- */

Test(pool, try_submit_eagain_when_full)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 1, 2);
	struct tally t = { 0 }, never = { 0 };
	struct gate gt;

	gate_init(&gt, 0);
	fill(p, &gt, 2, &t);
	cr_assert_eq(chan_pool_try_submit(p, count_job, &never), -EAGAIN);
	chan_close(gt.open);
	cr_assert_eq(chan_pool_close(p), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&gt.ran), 1);
	cr_assert_eq(atomic_load(&t.ran), 2);
	cr_assert_eq(atomic_load(&never.ran), 0, "a refused job ran");
	chan_pool_destroy(p);
	chan_group_destroy(g);
	chan_release(gt.open);
}

/* Queue capacity 0: a try_submit goes only to a worker already waiting. */
Test(pool, rendezvous_try_submit_needs_an_idle_worker)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 1, 0);
	chan_t *q = chan__pool_queue(p);
	struct tally t = { 0 }, never = { 0 };
	struct gate gt;

	gate_init(&gt, 0);
	WAIT_FOR(atomic_load(&q->recvq.nwait) == 1, "the idle worker waits for a job");
	cr_assert_eq(chan_pool_try_submit(p, gated_job, &gt), 0);
	WAIT_FOR(atomic_load(&gt.started) == 1, "the gated job started");
	cr_assert_eq(chan_pool_try_submit(p, count_job, &never), -EAGAIN, "the worker is busy");
	chan_close(gt.open);
	WAIT_FOR(atomic_load(&q->recvq.nwait) == 1, "the worker is idle again");
	cr_assert_eq(chan_pool_try_submit(p, count_job, &t), 0);
	cr_assert_eq(chan_pool_close(p), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&t.ran), 1);
	cr_assert_eq(atomic_load(&never.ran), 0);
	chan_pool_destroy(p);
	chan_group_destroy(g);
	chan_release(gt.open);
}

Test(pool, submit_blocks_while_full_then_goes_in)
{
	for (int with_ctx = 0; with_ctx < 2; with_ctx++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_pool_t *p = chan_pool_new(g, 1, 1);
		chan_ctx_t *ctx = with_ctx ? chan_ctx_with_cancel(chan_ctx_background()) : NULL;
		struct tally t = { 0 }, late = { 0 };
		struct submitter s;
		struct gate gt;

		gate_init(&gt, 0);
		fill(p, &gt, 1, &t);
		start_submitter(&s, p, ctx, count_job, &late);
		wait_blocked_submitters(p, 1);
		cr_assert_eq(atomic_load(&s.done), 0, "a submit on a full queue returned");
		chan_close(gt.open); /* the worker frees a slot */
		pthread_join(s.th, NULL);
		cr_assert_eq(s.rc, 0);
		cr_assert_eq(chan_pool_close(p), 0);
		cr_assert_eq(chan_group_wait(g), 0);
		cr_assert_eq(atomic_load(&late.ran), 1);
		cr_assert_eq(atomic_load(&t.ran), 1);
		chan_pool_destroy(p);
		chan_group_destroy(g);
		chan_release(gt.open);
		if (ctx)
			chan_ctx_release(ctx);
	}
}

/* Blocked on a full queue: its ctx's cancel or deadline, the group's
 * cancel and the pool's close each wake it with its errno, and its job
 * never runs. */
Test(pool, blocked_submit_fails_on_ctx_cancel_deadline_group_cancel_and_close)
{
	enum { CTX_CANCEL, CTX_DEADLINE, GROUP_CANCEL, CLOSE, HOWS };
	static const int want[HOWS] = { -ECANCELED, -ETIMEDOUT, -ECANCELED, -EPIPE };

	for (int how = 0; how < HOWS; how++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_pool_t *p = chan_pool_new(g, 1, 1);
		int64_t deadline = chan_now() + 50 * MS;
		chan_ctx_t *ctx = how == CTX_DEADLINE
					  ? chan_ctx_with_deadline(chan_ctx_background(), deadline)
					  : chan_ctx_with_cancel(chan_ctx_background());
		struct tally t = { 0 }, never = { 0 };
		struct submitter s;
		struct gate gt;

		gate_init(&gt, 0);
		fill(p, &gt, 1, &t);
		start_submitter(&s, p, ctx, count_job, &never);
		if (how != CTX_DEADLINE) {
			wait_blocked_submitters(p, 1);
			cr_assert_eq(atomic_load(&s.done), 0);
		}
		if (how == CTX_CANCEL)
			chan_ctx_cancel(ctx);
		else if (how == GROUP_CANCEL)
			chan_group_cancel(g, 0);
		else if (how == CLOSE)
			cr_assert_eq(chan_pool_close(p), 0);
		pthread_join(s.th, NULL);
		cr_assert_eq(s.rc, want[how], "how %d: %d", how, s.rc);
		if (how == CTX_DEADLINE)
			cr_assert_geq(s.returned_at, deadline, "returned before the deadline");
		chan_close(gt.open);
		chan_pool_close(p);
		cr_assert_eq(chan_group_wait(g), 0);
		cr_assert_eq(atomic_load(&never.ran), 0, "how %d: a failed submit's job ran", how);
		cr_assert_eq(atomic_load(&t.ran), 1, "how %d: an accepted job was lost", how);
		cr_assert_eq(atomic_load(&gt.ran), 1);
		chan_pool_destroy(p);
		chan_group_destroy(g);
		chan_release(gt.open);
		chan_ctx_release(ctx);
	}
}

/* ---- cancel --------------------------------------------------------------- */

Test(pool, cancel_refuses_new_jobs_and_runs_the_accepted_ones)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 2, 16);
	struct tally t = { 0 }, never = { 0 };
	struct gate gt;

	gate_init(&gt, 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(chan_pool_submit(p, gated_job, &gt, chan_ctx_background()), 0);
	WAIT_FOR(atomic_load(&gt.started) == 2, "both workers busy");
	for (int i = 0; i < 10; i++)
		cr_assert_eq(chan_pool_try_submit(p, count_job, &t), 0);
	chan_group_cancel(g, 0);
	cr_assert_eq(chan_pool_submit(p, count_job, &never, chan_ctx_background()), -ECANCELED);
	cr_assert_eq(chan_pool_try_submit(p, count_job, &never), -ECANCELED);
	chan_close(gt.open);
	cr_assert_eq(chan_group_wait(g), 0, "a cancel with 0 records no error");
	cr_assert_eq(atomic_load(&gt.ran), 2);
	cr_assert_eq(atomic_load(&t.ran), 10, "accepted jobs run after a cancel");
	cr_assert_eq(atomic_load(&t.saw_canceled), 10, "with the canceled context");
	cr_assert_eq(atomic_load(&never.ran), 0);
	cr_assert_eq(chan_pool_close(p), 0);
	cr_assert_eq(chan_pool_submit(p, count_job, &never, chan_ctx_background()), -EPIPE);
	chan_pool_destroy(p);
	chan_group_destroy(g);
	chan_release(gt.open);
}

Test(pool, parent_cancel_stops_the_pool)
{
	chan_ctx_t *parent = chan_ctx_with_cancel(chan_ctx_background());
	chan_group_t *g = chan_group_new(parent);
	chan_pool_t *p = chan_pool_new(g, 2, 4);
	struct tally t = { 0 };

	for (int i = 0; i < 4; i++)
		cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), 0);
	chan_ctx_cancel(parent);
	cr_assert_eq(chan_pool_try_submit(p, count_job, &t), -ECANCELED);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&t.ran), 4);
	chan_pool_destroy(p);
	chan_group_destroy(g);
	chan_ctx_release(parent);
}

/* A job's negative return is the group's error (the first one) and cancels
 * it; the jobs queued behind it still run, seeing the cancel; 0 and
 * positive returns are not errors. */
Test(pool, job_error_is_the_groups_first_error)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 1, 8);
	struct tally t = { 0 };
	struct gate gt;

	gate_init(&gt, -EIO);
	cr_assert_eq(chan_pool_submit(p, ret_arg, (void *)(intptr_t)7, chan_ctx_background()), 0);
	cr_assert_eq(chan_pool_submit(p, gated_job, &gt, chan_ctx_background()), 0);
	WAIT_FOR(atomic_load(&gt.started) == 1, "the failing job started");
	cr_assert_eq(chan_pool_submit(p, ret_arg, (void *)(intptr_t)-EBADF, chan_ctx_background()),
		     0);
	cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), 0);
	cr_assert_eq(chan_ctx_err(chan_group_ctx(g)), 0, "a positive return is no error");
	chan_close(gt.open); /* -EIO: cancels the group */
	cr_assert_eq(chan_group_wait(g), -EIO, "the first error wins");
	cr_assert_eq(atomic_load(&t.ran), 1, "queued behind the error, still run");
	cr_assert_eq(atomic_load(&t.saw_canceled), 1);
	cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), -ECANCELED);
	chan_pool_destroy(p);
	chan_group_destroy(g);
	chan_release(gt.open);
}

/* ---- the group: limit, tasks, jobs that submit ------------------------------ */

Test(pool, workers_do_not_count_toward_the_group_limit)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct tally t = { 0 }, task = { 0 };

	cr_assert_eq(chan_group_set_limit(g, 0), 0);
	chan_pool_t *p = chan_pool_new(g, 2, 4);

	cr_assert_not_null(p);
	cr_assert_eq(chan_group_try_go(g, count_job, &task), -EAGAIN, "limit 0 still holds");
	cr_assert_eq(chan_group_set_limit(g, 1), 0, "not -EBUSY: no limited task runs");
	for (int i = 0; i < 100; i++)
		cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), 0);
	cr_assert_eq(chan_group_go(g, count_job, &task), 0, "a task beside the workers");
	cr_assert_eq(chan_pool_close(p), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&t.ran), 100);
	cr_assert_eq(atomic_load(&task.ran), 1);
	chan_pool_destroy(p);
	chan_group_destroy(g);
}

/* Each job submits two children until depth 0; a wait group counts the
 * jobs, then the pool is closed. */
struct tree {
	chan_pool_t *p;
	chan_wg_t wg;
	_Atomic long ran;
	struct tree_job {
		struct tree *t;
		int depth;
	} jobs[1 << 10];
	_Atomic int next;
};

static int tree_job(chan_ctx_t *ctx, void *arg)
{
	struct tree_job *j = arg;
	struct tree *t = j->t;

	(void)ctx;
	atomic_fetch_add(&t->ran, 1);
	for (int k = 0; k < 2 && j->depth > 0; k++) {
		struct tree_job *c = &t->jobs[atomic_fetch_add(&t->next, 1)];

		*c = (struct tree_job){ .t = t, .depth = j->depth - 1 };
		chan_wg_add(&t->wg, 1);
		/* try_submit: a worker must not wait for itself on a full queue. */
		if (chan_pool_try_submit(t->p, tree_job, c) != 0)
			tree_job(ctx, c); /* full: run it here (its chan_wg_done too) */
	}
	chan_wg_done(&t->wg);
	return 0;
}

Test(pool, jobs_submit_jobs)
{
	static struct tree t;
	chan_group_t *g = chan_group_new(chan_ctx_background());

	t.p = chan_pool_new(g, 3, 4);
	chan_wg_init(&t.wg);
	atomic_store(&t.ran, 0);
	atomic_store(&t.next, 1);
	t.jobs[0] = (struct tree_job){ .t = &t, .depth = 8 };
	chan_wg_add(&t.wg, 1);
	cr_assert_eq(chan_pool_submit(t.p, tree_job, &t.jobs[0], chan_ctx_background()), 0);
	chan_wg_wait(&t.wg);
	cr_assert_eq(chan_pool_close(t.p), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&t.ran), (1 << 9) - 1);
	chan_pool_destroy(t.p);
	chan_group_destroy(g);
}

/* Jobs that count how many run at once: never more than the workers. */
static _Atomic int in_flight, most;

static int busy_job(chan_ctx_t *ctx, void *arg)
{
	int now = atomic_fetch_add(&in_flight, 1) + 1;

	(void)ctx;
	(void)arg;
	for (int m = atomic_load(&most); now > m && !atomic_compare_exchange_weak(&most, &m, now);)
		;
	sched_yield();
	atomic_fetch_sub(&in_flight, 1);
	return 0;
}

struct flood {
	chan_pool_t *p;
	int n;
	pthread_t th;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;

	for (int i = 0; i < f->n; i++)
		if (chan_pool_submit(f->p, busy_job, NULL, chan_ctx_background()) != 0)
			abort();
	return NULL;
}

Test(pool, concurrency_never_above_the_workers)
{
	for (unsigned w = 1; w <= 4; w++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_pool_t *p = chan_pool_new(g, w, 16);
		struct flood f[3];
		struct gate gt;

		atomic_store(&most, 0);
		/* First show that @w jobs do run at once. */
		gate_init(&gt, 0);
		for (unsigned i = 0; i < w; i++)
			cr_assert_eq(chan_pool_submit(p, gated_job, &gt, chan_ctx_background()), 0);
		WAIT_FOR(atomic_load(&gt.started) == (int)w, "every worker runs a job");
		chan_close(gt.open);
		for (int i = 0; i < 3; i++) {
			f[i] = (struct flood){ .p = p, .n = 2000 };
			cr_assert_eq(pthread_create(&f[i].th, NULL, flood_main, &f[i]), 0);
		}
		for (int i = 0; i < 3; i++)
			pthread_join(f[i].th, NULL);
		cr_assert_eq(chan_pool_close(p), 0);
		cr_assert_eq(chan_group_wait(g), 0);
		cr_assert_leq(atomic_load(&most), (int)w, "%d jobs at once on %u workers",
			      atomic_load(&most), w);
		chan_pool_destroy(p);
		chan_group_destroy(g);
		chan_release(gt.open);
	}
}

/* ---- exactly once under many submitters, cancel or close at random --------- */

#define SUBMITTERS 4
#define PER_SUB	   (CHAN__TSAN ? 1500 : 5000)
#define NJOBS	   (SUBMITTERS * PER_SUB)

struct once {
	_Atomic int runs[NJOBS];
	_Atomic int accepted[NJOBS];
	_Atomic long naccepted;
	_Atomic int twice, bad_rc;
	struct once_item {
		struct once *o;
		int id;
	} items[NJOBS];
};

static int once_job(chan_ctx_t *ctx, void *arg)
{
	struct once_item *it = arg;

	(void)ctx;
	if (atomic_fetch_add(&it->o->runs[it->id], 1) != 0)
		atomic_store(&it->o->twice, 1);
	return 0;
}

struct once_sub {
	struct once *o;
	chan_pool_t *p;
	int first;
	unsigned seed;
	pthread_t th;
};

static void *once_sub_main(void *arg)
{
	struct once_sub *s = arg;
	struct once *o = s->o;

	for (int i = s->first; i < s->first + PER_SUB; i++) {
		int rc;

		s->seed = s->seed * 1103515245u + 12345u;
		if ((s->seed >> 8) % 3 == 0) {
			rc = chan_pool_try_submit(s->p, once_job, &o->items[i]);
			if (rc == -EAGAIN)
				rc = chan_pool_submit(s->p, once_job, &o->items[i],
						      chan_ctx_background());
		} else {
			rc = chan_pool_submit(s->p, once_job, &o->items[i], chan_ctx_background());
		}
		if (rc == 0) {
			atomic_store(&o->accepted[i], 1);
			atomic_fetch_add(&o->naccepted, 1);
		} else if (rc != -ECANCELED && rc != -EPIPE) {
			atomic_store(&o->bad_rc, rc);
		}
	}
	return NULL;
}

Test(pool, exactly_once_with_many_submitters_and_a_random_stop)
{
	static const size_t caps[] = { 0, 1, 64, CHAN_UNBOUNDED };
	static struct once o;
	unsigned seed = (unsigned)time(NULL);

	for (int round = 0; round < 16; round++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		size_t cap = caps[round % 4];
		bool by_close = round % 8 >= 4;
		chan_pool_t *p = chan_pool_new(g, 1 + (unsigned)round % 3, cap);
		struct once_sub s[SUBMITTERS];
		long stop_at;

		seed = seed * 1103515245u + 12345u;
		stop_at = (long)((seed >> 8) % (NJOBS + NJOBS / 4)); /* sometimes never */
		for (int i = 0; i < NJOBS; i++) {
			atomic_store(&o.runs[i], 0);
			atomic_store(&o.accepted[i], 0);
			o.items[i] = (struct once_item){ .o = &o, .id = i };
		}
		atomic_store(&o.naccepted, 0);
		atomic_store(&o.twice, 0);
		atomic_store(&o.bad_rc, 0);
		for (int k = 0; k < SUBMITTERS; k++) {
			s[k] = (struct once_sub){ .o = &o, .p = p, .first = k * PER_SUB,
						  .seed = seed + (unsigned)k };
			cr_assert_eq(pthread_create(&s[k].th, NULL, once_sub_main, &s[k]), 0);
		}
		while (atomic_load(&o.naccepted) < stop_at && atomic_load(&o.naccepted) < NJOBS)
			sched_yield();
		if (stop_at < NJOBS) {
			if (by_close)
				chan_pool_close(p);
			else
				chan_group_cancel(g, 0);
		}
		for (int k = 0; k < SUBMITTERS; k++)
			pthread_join(s[k].th, NULL);
		chan_pool_close(p);
		cr_assert_eq(chan_group_wait(g), 0);
		cr_assert_eq(atomic_load(&o.bad_rc), 0, "a submit returned %d",
			     atomic_load(&o.bad_rc));
		cr_assert_eq(atomic_load(&o.twice), 0, "round %d: a job ran twice", round);
		for (int i = 0; i < NJOBS; i++)
			cr_assert_eq(atomic_load(&o.runs[i]), atomic_load(&o.accepted[i]),
				     "round %d (cap %zu, %s at %ld): job %d accepted %d, ran %d",
				     round, cap, by_close ? "close" : "cancel", stop_at, i,
				     atomic_load(&o.accepted[i]), atomic_load(&o.runs[i]));
		chan_pool_destroy(p);
		chan_group_destroy(g);
	}
}

/* ---- teardown and failures ------------------------------------------------ */

/* Jobs own their argument and free it: after wait + destroy nothing is left
 * (LeakSanitizer checks, in the asan-ubsan build), also when the group is
 * destroyed first, and when jobs were still queued at a cancel. */
static int free_job(chan_ctx_t *ctx, void *arg)
{
	(void)ctx;
	free(arg);
	return 0;
}

Test(pool, destroy_after_wait_frees_everything)
{
	for (int how = 0; how < 3; how++) {
		chan_group_t *g = chan_group_new(chan_ctx_background());
		chan_pool_t *p = chan_pool_new(g, 2, 32);

		for (int i = 0; i < 200; i++) {
			void *a = malloc(64);

			if (chan_pool_submit(p, free_job, a, chan_ctx_background()) != 0)
				free(a); /* refused: still ours */
			if (how == 1 && i == 100)
				chan_group_cancel(g, 0);
		}
		if (how == 2) {
			chan_pool_close(p);
			chan_group_destroy(g); /* cancel + wait: then the pool may go */
			chan_pool_destroy(p);
			continue;
		}
		chan_pool_close(p);
		cr_assert_eq(chan_group_wait(g), 0);
		chan_pool_destroy(p);
		chan_group_destroy(g);
	}
}

/* A pool destroyed while its workers wait for jobs: chan says so and aborts. */
Test(pool, destroy_before_wait_aborts, .signal = SIGABRT)
{
	chan_group_t *g = chan_group_new(chan_ctx_background());
	chan_pool_t *p = chan_pool_new(g, 1, 1);

	chan_pool_destroy(p);
}

/* No worker could be started: NULL + EAGAIN; the second of two: a pool
 * with one worker that runs every job. */
Test(pool, new_without_threads)
{
	/* Each task a thread of its own, so that the k-th task is the k-th
	 * thread creation (a goroutine's start creates no thread; the fiber
	 * mode's failures are in task_test). */
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .mode = CHAN_GO_THREADS }), 0);
	chan_group_t *g = chan_group_new(chan_ctx_background());
	struct tally t = { 0 };
	chan_pool_t *p;

	chan__fault_arm(CHAN__FAULT_THREAD, 1); /* a fresh process: chan_go must spawn */
	errno = 0;
	p = chan_pool_new(g, 1, 4);
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	cr_assert_null(p);
	cr_assert_eq(errno, EAGAIN);

	chan__fault_arm(CHAN__FAULT_THREAD, 2);
	p = chan_pool_new(g, 2, 4);
	cr_assert(chan__fault_fired(CHAN__FAULT_THREAD));
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	cr_assert_not_null(p);
	cr_assert_eq(chan__pool_workers(p), 1);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(chan_pool_submit(p, count_job, &t, chan_ctx_background()), 0);
	cr_assert_eq(chan_pool_close(p), 0);
	cr_assert_eq(chan_group_wait(g), 0);
	cr_assert_eq(atomic_load(&t.ran), 20);
	chan_pool_destroy(p);
	chan_group_destroy(g);
}
