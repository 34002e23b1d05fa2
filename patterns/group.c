/* SPDX-License-Identifier: MIT */
/*
 * patterns/group.c - errgroup (golang.org/x/sync/errgroup).
 *
 * State is under one mutex; one condition variable serves both kinds of
 * waiter (chan_group_go at the limit, chan_group_wait for zero tasks) and
 * every change is a broadcast.
 *
 * Invariants (under mu):
 *   - active counts every task (user and stage) that has been started and
 *     has not yet finished its last touch of the group, plus constructor
 *     holds; limited counts the user tasks among them (the limit's count);
 *   - err is 0 until the first negative error, then never changes;
 *   - canceled is set by the after-func on the group's context, in one
 *     critical section with its broadcast; after it unlocks it never
 *     touches the group again.
 * A task's last touch is its unlock after active--, so chan_group_wait(),
 * which re-acquires mu to see active == 0, returns after it (and
 * chan_group_destroy() may free the group).
 *
 * No lost wakeup at the limit: a waiter tests "canceled, or ctx done" under
 * mu before it sleeps, and the after-func (which runs only once the context
 * is done) broadcasts under mu; a task's end broadcasts under mu too.
 *
 * The group's context gets its done channel here, in chan_group_new(), not
 * lazily: every stage task and most user tasks wait on it, and a stage that
 * cannot report an error would otherwise have to end (and close its
 * output, like a drained input) on the first wait's allocation failure.
 * Made here, chan_ctx_done(chan_group_ctx(g)) cannot fail.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <chan/ctx.h>
#include <chan/group.h>
#include <chan/task.h>

#include "group_pvt.h"

struct chan_group {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	chan_ctx_t *ctx;
	chan_ctx_after_t *on_cancel;
	int err;
	int limit; /* < 0: none */
	unsigned limited, active;
	bool canceled;
};

struct task {
	chan_group_t *g;
	chan_task_fn fn;
	void *arg;
	bool limited;
};

static void on_cancel(void *arg)
{
	chan_group_t *g = arg;

	pthread_mutex_lock(&g->mu);
	g->canceled = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu); /* the last touch of g */
}

chan_group_t *chan_group_new(chan_ctx_t *parent)
{
	chan_group_t *g;

	if (!parent) {
		errno = EINVAL;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->limit = -1;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->ctx = chan_ctx_with_cancel(parent);
	if (!g->ctx)
		goto fail;
	if (!chan_ctx_done(g->ctx)) { /* see above: never fails after this */
		chan_ctx_release(g->ctx);
		goto fail;
	}
	g->on_cancel = chan_ctx_after_func(g->ctx, on_cancel, g);
	if (!g->on_cancel) {
		chan_ctx_release(g->ctx);
		goto fail;
	}
	return g;
fail:
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
	errno = ENOMEM;
	return NULL;
}

chan_ctx_t *chan_group_ctx(chan_group_t *g)
{
	return g ? g->ctx : NULL;
}

int chan_group_set_limit(chan_group_t *g, int n)
{
	int r = 0;

	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&g->mu);
	if (g->limited > 0) {
		r = -EBUSY;
	} else {
		g->limit = n < 0 ? -1 : n;
		pthread_cond_broadcast(&g->cv); /* a waiter at limit 0 may go now */
	}
	pthread_mutex_unlock(&g->mu);
	return r;
}

void chan_group_cancel(chan_group_t *g, int err)
{
	if (!g)
		return;
	if (err < 0) {
		pthread_mutex_lock(&g->mu);
		if (g->err == 0)
			g->err = err;
		pthread_mutex_unlock(&g->mu);
	}
	/* Outside mu: the after-func takes it (on its own task, or here if no
	 * task could be started). */
	chan_ctx_cancel(g->ctx);
}

static void task_exit(chan_group_t *g, bool limited)
{
	pthread_mutex_lock(&g->mu);
	g->active--;
	if (limited)
		g->limited--;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu); /* the last touch of g */
}

static void task_main(void *arg)
{
	struct task t = *(struct task *)arg;
	int r;

	free(arg);
	r = t.fn(t.g->ctx, t.arg);
	if (r < 0)
		chan_group_cancel(t.g, r);
	task_exit(t.g, t.limited);
}

/* Start a task whose slot (active, and limited if so) is already counted. */
static int start(chan_group_t *g, chan_task_fn fn, void *arg, bool limited)
{
	struct task *t = malloc(sizeof(*t));
	int r;

	if (!t) {
		r = -ENOMEM;
	} else {
		*t = (struct task){ .g = g, .fn = fn, .arg = arg, .limited = limited };
		r = chan_go(task_main, t);
		if (r == 0)
			return 0;
		free(t);
	}
	task_exit(g, limited); /* give the slot back */
	return r;
}

static bool is_canceled(chan_group_t *g)
{
	return g->canceled || chan_ctx_err(g->ctx) != 0;
}

static int go(chan_group_t *g, chan_task_fn fn, void *arg, bool wait)
{
	if (!g || !fn)
		return -EINVAL;
	pthread_mutex_lock(&g->mu);
	for (;;) {
		if (is_canceled(g)) {
			pthread_mutex_unlock(&g->mu);
			return -ECANCELED;
		}
		if (g->limit < 0 || g->limited < (unsigned)g->limit)
			break;
		if (!wait) {
			pthread_mutex_unlock(&g->mu);
			return -EAGAIN;
		}
		pthread_cond_wait(&g->cv, &g->mu); /* spurious wakeups: retest */
	}
	g->limited++;
	g->active++;
	pthread_mutex_unlock(&g->mu);
	return start(g, fn, arg, true);
}

int chan_group_go(chan_group_t *g, chan_task_fn fn, void *arg)
{
	return go(g, fn, arg, true);
}

int chan_group_try_go(chan_group_t *g, chan_task_fn fn, void *arg)
{
	return go(g, fn, arg, false);
}

int chan__group_go_stage(chan_group_t *g, chan_task_fn fn, void *arg)
{
	chan__group_hold(g);
	return start(g, fn, arg, false);
}

void chan__group_hold(chan_group_t *g)
{
	pthread_mutex_lock(&g->mu);
	g->active++;
	pthread_mutex_unlock(&g->mu);
}

void chan__group_unhold(chan_group_t *g)
{
	task_exit(g, false);
}

int chan_group_wait(chan_group_t *g)
{
	int err;

	if (!g)
		return -EINVAL;
	pthread_mutex_lock(&g->mu);
	while (g->active > 0)
		pthread_cond_wait(&g->cv, &g->mu);
	err = g->err;
	pthread_mutex_unlock(&g->mu);
	chan_ctx_cancel(g->ctx);
	return err;
}

void chan_group_destroy(chan_group_t *g)
{
	if (!g)
		return;
	chan_ctx_cancel(g->ctx);
	chan_group_wait(g);
	/* The after-func has started (the context is canceled) unless this
	 * stops it; if it has, wait for its last touch of g. */
	if (!chan_ctx_stop_after(g->on_cancel)) {
		pthread_mutex_lock(&g->mu);
		while (!g->canceled)
			pthread_cond_wait(&g->cv, &g->mu);
		pthread_mutex_unlock(&g->mu);
	}
	chan_ctx_release(g->ctx);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
