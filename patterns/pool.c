/* SPDX-License-Identifier: MIT */
/*
 * patterns/pool.c - the worker pool of chan/pool.h: @workers stage tasks of
 * the group, each receiving job records {fn, arg} from one channel (the
 * queue) and running them, until the queue is closed and drained. Go's
 * "range over a jobs channel" pool, with errgroup's error handling.
 *
 * The queue is closed by exactly the two events that end the pool:
 * chan_pool_close(), and the group's cancellation, through an after-func on
 * the group's context (chan_ctx_after_func(), on its own task; it holds its
 * own reference on the queue, so it never touches the pool). A worker never
 * looks at the context: its only way out is chan_recv() returning -EPIPE,
 * which means closed *and drained*.
 *
 * No job lost, none run twice (the argument the header's promise rests on):
 * a submit is accepted iff its send into the queue succeeded. The channel
 * receives every value that was sent successfully exactly once, and its
 * close is one atomic step (the mark in the ring's tail, a seq_cst RMW; for
 * the rendezvous queue, @closed under the channel lock): a send either got
 * in before the mark, and is then received before any receiver sees -EPIPE,
 * or fails with -EPIPE having sent nothing. A worker leaves only on -EPIPE,
 * so no worker leaves while an accepted job is still queued, and each job
 * record received is run once by the worker that received it before that
 * worker receives again. So a close or a cancel that races a submit decides
 * only which of the two outcomes the submit gets (accepted and run once, or
 * refused and never run), never a third. The checks of the closed flag and
 * of the group's context before the send only turn away submits that would
 * fail anyway, or that began after a cancel had returned (chan_ctx_cancel()
 * stores the context's error before it returns); a submit that passed them
 * and then races the after-func is one of the races above.
 *
 * Lifetime: ->live counts the started workers that have not left; a
 * worker's decrement is its last touch of the pool, so chan_pool_destroy()
 * may free it once ->live is 0, which chan_group_wait() returning implies.
 * The after-func is stopped (chan_ctx_stop_after(), exactly once: by the
 * first of chan_pool_close() and chan_pool_destroy()) or runs; either way
 * its reference on the queue is released once.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <chan/channel.h>
#include <chan/ctx.h>
#include <chan/group.h>
#include <chan/pool.h>

#include "pool_pvt.h"
#include "stage_pvt.h"

struct job {
	chan_task_fn fn;
	void *arg;
};

struct chan_pool {
	chan_t *queue;		     /* struct job records; the pool's reference */
	chan_group_t *g;	     /* borrowed */
	chan_ctx_t *gctx;	     /* chan_group_ctx(g) */
	chan_ctx_after_t *on_cancel; /* closes the queue when gctx is done */
	_Atomic bool closed;	     /* chan_pool_close() was called */
	_Atomic bool after_taken;    /* on_cancel was handed to chan_ctx_stop_after() */
	_Atomic unsigned live;	     /* started workers that have not left */
};

static _Noreturn void pool_die(const char *file, int line, const char *what)
{
	/* The format of the library's other misuse aborts (chan__die). */
	fprintf(stderr, "chan: %s:%d: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

#define POOL_DIE(what) pool_die(__FILE__, __LINE__, (what))

/* The after-func: the group is canceled, accept no more jobs. */
static void close_on_cancel(void *arg)
{
	chan_t *queue = arg;

	chan_close(queue); /* -EPIPE if chan_pool_close() came first: fine */
	chan_release(queue);
}

/* Stop the after-func once (from close or destroy, whichever comes first). */
static void stop_on_cancel(chan_pool_t *p)
{
	/* Relaxed: the exchange only elects the one caller; on_cancel was
	 * written before the pool was handed to any other thread. */
	if (atomic_exchange_explicit(&p->after_taken, true, memory_order_relaxed))
		return;
	if (chan_ctx_stop_after(p->on_cancel))
		chan_release(p->queue); /* the reference it would have released */
}

static int worker(chan_ctx_t *ctx, void *arg)
{
	chan_pool_t *p = arg;
	struct job j;

	while (chan_recv(p->queue, &j) == 0) {
		int r = j.fn(ctx, j.arg);

		if (r < 0)
			chan_group_cancel(p->g, r); /* first error wins, as a task's */
	}
	/* Release: pairs with the acquire in chan_pool_destroy(); our last
	 * touch of the pool. */
	atomic_fetch_sub_explicit(&p->live, 1, memory_order_release);
	return 0; /* job errors went to the group above; leaving is not one */
}

chan_pool_t *chan_pool_new(chan_group_t *g, unsigned workers, size_t queue_cap)
{
	chan_pool_t *p;
	unsigned i;
	int err = 0;

	if (!g || workers == 0 || (queue_cap > CHAN_CAPACITY_MAX && queue_cap != CHAN_UNBOUNDED)) {
		errno = EINVAL;
		return NULL;
	}
	if (chan__stage_canceled(g) != 0) {
		errno = ECANCELED;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->g = g;
	p->gctx = chan_group_ctx(g);
	atomic_init(&p->closed, false);
	atomic_init(&p->after_taken, false);
	atomic_init(&p->live, workers);
	p->queue = chan_new_opts(&(chan_opts_t){
		.elem_size = sizeof(struct job),
		.capacity = queue_cap,
		.flags = workers == 1 ? CHAN_SINGLE_CONSUMER : 0u,
	});
	if (!p->queue) {
		err = errno; /* ENOMEM (the arguments were checked above) */
		free(p);
		errno = err;
		return NULL;
	}
	p->on_cancel = chan_ctx_after_func(p->gctx, close_on_cancel, chan_retain(p->queue));
	if (!p->on_cancel) {
		chan_release(p->queue); /* the after-func's */
		chan_release(p->queue);
		free(p);
		errno = ENOMEM;
		return NULL;
	}

	/* Hold the group while we start: a cancel meanwhile closes the queue
	 * and the first workers may leave at once, but chan_group_wait() must
	 * not return before the last one was started. */
	chan__group_hold(g);
	for (i = 0; i < workers; i++) {
		err = chan__group_go_stage(g, worker, p);
		if (err != 0)
			break;
	}
	if (i < workers) /* those never start, so never leave */
		atomic_fetch_sub_explicit(&p->live, workers - i, memory_order_relaxed);
	if (i == 0) {
		/* Nobody else saw the pool. */
		stop_on_cancel(p);
		chan_release(p->queue);
		free(p);
		chan__group_unhold(g);
		errno = -err;
		return NULL;
	}
	chan__group_unhold(g);
	return p;
}

/* 0, or why the pool accepts no more jobs. */
static int pool_state(chan_pool_t *p)
{
	/* Relaxed: a hint only; the queue's close decides what is accepted. */
	if (atomic_load_explicit(&p->closed, memory_order_relaxed))
		return -EPIPE;
	return chan_ctx_err(p->gctx) != 0 ? -ECANCELED : 0;
}

/*
 * A send found the queue closed: by chan_pool_close() or by the cancel.
 * Each answer is true whatever we see: a set flag means close was called; a
 * done context means the group is canceled; neither means the closer was
 * chan_pool_close(), whose flag we do not see yet (the cancel's after-func
 * runs only after the context's error is stored), so relaxed is enough.
 */
static int refused(chan_pool_t *p)
{
	int r = pool_state(p);

	return r != 0 ? r : -EPIPE;
}

int chan_pool_submit(chan_pool_t *p, chan_task_fn fn, void *arg, chan_ctx_t *ctx)
{
	struct job j = { .fn = fn, .arg = arg };
	int r;

	if (!p || !fn || !ctx)
		return -EINVAL;
	r = chan_ctx_err(ctx);
	if (r != 0)
		return r;
	r = pool_state(p);
	if (r != 0)
		return r;
	r = chan__send_wait(p->queue, &j, ctx);
	return r == -EPIPE ? refused(p) : r;
}

int chan_pool_try_submit(chan_pool_t *p, chan_task_fn fn, void *arg)
{
	struct job j = { .fn = fn, .arg = arg };
	int r;

	if (!p || !fn)
		return -EINVAL;
	r = pool_state(p);
	if (r != 0)
		return r;
	r = chan_try_send(p->queue, &j);
	return r == -EPIPE ? refused(p) : r;
}

int chan_pool_close(chan_pool_t *p)
{
	if (!p)
		return -EINVAL;
	/* Relaxed: elects the one closer; the queue's close orders the rest. */
	if (atomic_exchange_explicit(&p->closed, true, memory_order_relaxed))
		return -EPIPE;
	chan_close(p->queue); /* -EPIPE if the cancel closed it first: fine */
	stop_on_cancel(p);    /* the queue is closed: the after-func has no work left */
	return 0;
}

void chan_pool_destroy(chan_pool_t *p)
{
	if (!p)
		return;
	/* Acquire: pairs with each worker's release decrement, so their
	 * last accesses to the pool happen before the free. */
	if (atomic_load_explicit(&p->live, memory_order_acquire) != 0)
		POOL_DIE("chan_pool_destroy() while its workers run: call chan_group_wait() first");
	stop_on_cancel(p);
	chan_release(p->queue); /* closed and drained: nothing left to drop */
	free(p);
}

chan_t *chan__pool_queue(chan_pool_t *p)
{
	return p->queue;
}

unsigned chan__pool_workers(chan_pool_t *p)
{
	/* Relaxed: a snapshot for tests. */
	return atomic_load_explicit(&p->live, memory_order_relaxed);
}
