/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/task_test.c - chan_go and wait groups.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <chan/chan.h>

#include "ring/compiler.h"

static _Atomic int ran;
static int plain; /* written before chan_go, read by the task: happens-before */

static void bump(void *arg)
{
	chan_wg_t *wg = arg;

	if (plain != 7)
		abort();
	atomic_fetch_add(&ran, 1);
	chan_wg_done(wg);
}

Test(task, go_runs_every_task)
{
	chan_wg_t wg;

	chan_wg_init(&wg);
	plain = 7;
	for (int i = 0; i < 1000; i++) {
		chan_wg_add(&wg, 1);
		cr_assert_eq(chan_go(bump, &wg), 0);
	}
	chan_wg_wait(&wg);
	cr_assert_eq(atomic_load(&ran), 1000);
}

Test(task, go_rejects_null)
{
	cr_assert_eq(chan_go(NULL, NULL), -EINVAL);
	cr_assert_eq(chan_go_configure(NULL), -EINVAL);
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .stack_size = 1024 }), -EINVAL);
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .idle_ns = -1 }), -EINVAL);
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .stack_size = 128 * 1024 }), 0);
}

/* A chain of tasks: task i waits for a value from task i-1 and passes it on.
 * Every task blocks until all the ones before it have run, so this completes
 * only if blocked tasks never keep a new one from starting. */
struct link {
	chan_t *in, *out;
};

static void relay(void *arg)
{
	struct link *l = arg;
	long v;

	if (chan_recv(l->in, &v) == 0) {
		v++;
		chan_send(l->out, &v);
	}
}

#if CHAN__TSAN
#define CHAIN 3000 /* ThreadSanitizer allows 8128 live threads in all */
#else
#define CHAIN 10000
#endif

Test(task, ten_thousand_chained_tasks, .timeout = 300)
{
	chan_t **ch = malloc((CHAIN + 1) * sizeof(*ch));
	struct link *links = malloc(CHAIN * sizeof(*links));
	long v = 0;

	chan_go_configure(&(chan_go_opts_t){ .stack_size = 64 * 1024 });
	for (int i = 0; i <= CHAIN; i++)
		ch[i] = chan_new(sizeof(long), 0);
	for (int i = CHAIN - 1; i >= 0; i--) { /* start from the end: all block */
		links[i] = (struct link){ ch[i], ch[i + 1] };
		cr_assert_eq(chan_go(relay, &links[i]), 0, "chan_go failed at task %d", i);
	}
	cr_assert_eq(chan_send(ch[0], &v), 0);
	cr_assert_eq(chan_recv(ch[CHAIN], &v), 0);
	cr_assert_eq(v, CHAIN);
	for (int i = 0; i <= CHAIN; i++)
		chan_release(ch[i]);
	free(ch);
	free(links);
}

static void noop(void *arg)
{
	chan_wg_done(arg);
}

Test(task, idle_threads_are_reused)
{
	chan_wg_t wg = CHAN_WG_INIT;

	/* Sequential tasks: each finds the previous worker idle. */
	for (int i = 0; i < 2000; i++) {
		chan_wg_add(&wg, 1);
		cr_assert_eq(chan_go(noop, &wg), 0);
		chan_wg_wait(&wg);
	}
}

Test(wg, wait_on_zero_returns_at_once)
{
	chan_wg_t wg;

	chan_wg_init(&wg);
	chan_wg_wait(&wg);
	chan_wg_add(&wg, 3);
	chan_wg_add(&wg, -3);
	chan_wg_wait(&wg);
}

struct waiters {
	chan_wg_t *wg;
	_Atomic int *woke;
};

static void wait_task(void *arg)
{
	struct waiters *w = arg;

	chan_wg_wait(w->wg);
	atomic_fetch_add(w->woke, 1);
}

Test(wg, every_waiter_wakes_and_the_group_is_reusable)
{
	chan_wg_t wg, all;
	_Atomic int woke = 0;
	struct waiters w = { &wg, &woke };

	chan_wg_init(&wg);
	chan_wg_init(&all);
	for (int round = 1; round <= 3; round++) {
		chan_wg_add(&wg, 2);
		for (int i = 0; i < 8; i++)
			chan_go(wait_task, &w);
		chan_wg_done(&wg);
		cr_assert_eq(atomic_load(&woke), (round - 1) * 8, "woke before zero");
		chan_wg_done(&wg);
		while (atomic_load(&woke) < round * 8)
			sched_yield();
	}
	(void)all;
}

Test(wg, negative_counter_aborts, .signal = SIGABRT)
{
	chan_wg_t wg;

	chan_wg_init(&wg);
	chan_wg_done(&wg);
}

struct round {
	chan_wg_t *wg, *joined;
	_Atomic int *released; /* set before the done() that reaches zero */
	_Atomic int *early;
};

static void wait_then_check(void *arg)
{
	struct round *r = arg;

	chan_wg_wait(r->wg);
	if (!atomic_load(r->released))
		atomic_fetch_add(r->early, 1);
	chan_wg_done(r->joined);
}

/* Waiters that register while the counter reaches zero, round after round:
 * none may return before the zero, and none may sleep through it. */
Test(wg, waiters_racing_the_zero_never_return_early)
{
	chan_wg_t wg, joined;
	_Atomic int released, early = 0;
	struct round r = { &wg, &joined, &released, &early };

	chan_wg_init(&wg);
	chan_wg_init(&joined);
	for (int round = 0; round < 500; round++) {
		atomic_store(&released, 0);
		chan_wg_add(&wg, 2);
		chan_wg_add(&joined, 3);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(chan_go(wait_then_check, &r), 0);
		chan_wg_done(&wg);
		atomic_store(&released, 1);
		chan_wg_done(&wg);
		chan_wg_wait(&joined); /* every waiter returned: reuse is allowed */
	}
	cr_assert_eq(atomic_load(&early), 0, "a waiter returned before the counter reached zero");
}
