/* SPDX-License-Identifier: MIT */
/*
 * chan/pool.h - a worker pool: a fixed set of workers, tasks of a group,
 * that run jobs from a bounded queue.
 *
 *	chan_group_t *g = chan_group_new(chan_ctx_background());
 *	chan_pool_t *p = chan_pool_new(g, 4, 64);	// 4 workers, 64 queued jobs
 *	for (int i = 0; i < n; i++)
 *		if (chan_pool_submit(p, job, &items[i], chan_ctx_background()) != 0)
 *			break;				// canceled: item i never runs
 *	chan_pool_close(p);				// no more jobs: drain and exit
 *	int err = chan_group_wait(g);			// 0, or the first job error
 *	chan_pool_destroy(p);
 *	chan_group_destroy(g);
 *
 * It is Go's worker pool (a buffered jobs channel ranged over by N
 * goroutines) run as errgroup tasks: a job is a chan_task_fn, called as
 * fn(chan_group_ctx(g), arg) on one of the workers, exactly as a task of
 * chan_group_go() is; a negative return is a group error (the first one is
 * kept) and cancels the group; 0 and positive returns are ignored.
 *
 * The promise: every accepted job (a submit that returned 0) runs exactly
 * once, and a job whose submit failed never runs. Jobs start in the order
 * they were accepted (one FIFO queue) and may finish in any order.
 *   - chan_pool_close(): no more submits (-EPIPE); the workers run what is
 *     queued, then exit.
 *   - The group canceled (chan_group_cancel(), a job's error, its parent
 *     context, or chan_group_wait()'s final cancel): no more submits
 *     (-ECANCELED); the workers still run every job already accepted, with
 *     the canceled context (a job should look at chan_ctx_err() and return
 *     early), then exit. Submits blocked on a full queue return -ECANCELED.
 * So chan_group_wait() returns after chan_pool_close() or after the group is
 * canceled, once the queue is empty and every job has returned; without
 * either it waits for ever (the workers wait for jobs), as Go's range over
 * an unclosed channel does.
 *
 * Workers and the group's limit: the workers are tasks of @g (joined by
 * chan_group_wait()) but, like stage tasks, they do not count toward
 * chan_group_set_limit() (a pool is its own bound; counting them would make
 * a limit below @workers a deadlock and set_limit -EBUSY for the pool's
 * lifetime). Jobs are not group tasks of their own: chan_group_go() calls
 * and pools of the same group share its context and its first error.
 *
 * Ownership: the caller owns the pool: pair chan_pool_new() with
 * chan_pool_destroy(), called after chan_group_wait() (or
 * chan_group_destroy()) has returned. The group is borrowed: submits and
 * closes must happen while it exists. @arg is passed through untouched: if
 * it owns memory, the job frees it (every accepted job runs, also after a
 * cancel), and the submitter keeps it when the submit fails.
 *
 * Concurrency: chan_pool_submit(), chan_pool_try_submit() and
 * chan_pool_close() are thread-safe, against each other and against a
 * cancel, and may be called from jobs (a blocking submit from a job waits
 * for a worker like any other; if every worker does that on a full queue,
 * they wait for ever, as in Go: use try_submit there). A submit that
 * returned 0 happens-before its job starts; a job's return happens-before
 * chan_group_wait() returns. chan_pool_new() and chan_pool_destroy() must
 * not race other calls on the same pool.
 */
#ifndef CHAN_POOL_H
#define CHAN_POOL_H

#include <stddef.h>

#include <chan/api.h>
#include <chan/ctx.h>
#include <chan/group.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque worker pool. */
typedef struct chan_pool chan_pool_t;

/**
 * chan_pool_new() - start @workers workers of @g taking jobs from a queue of
 * @queue_cap jobs.
 * @g:         the group; borrowed (see the ownership note above).
 * @workers:   >= 1.
 * @queue_cap: jobs accepted but not yet taken by a worker: 0 (a submit is
 *             handed to an idle worker, rendezvous), 1 .. CHAN_CAPACITY_MAX,
 *             or CHAN_UNBOUNDED (submits never wait).
 *
 * If some, but not all, of the workers could be started (the system's
 * thread limit), the pool runs with those that were, as a map stage does.
 *
 * Concurrency: thread-safe against other calls on @g. Pair with
 * chan_pool_destroy().
 * Return: the pool, or NULL with errno, checked in this order:
 *   EINVAL     @g NULL, @workers 0, or @queue_cap above CHAN_CAPACITY_MAX
 *              and not CHAN_UNBOUNDED;
 *   ECANCELED  the group is already canceled;
 *   ENOMEM     out of memory;
 *   EAGAIN     no worker could be started.
 * On error nothing was started and nothing is left behind.
 */
CHAN_API chan_pool_t *chan_pool_new(chan_group_t *g, unsigned workers, size_t queue_cap);

/**
 * chan_pool_submit() - queue fn(chan_group_ctx(g), arg), waiting while the
 * queue is full.
 * @p:   the pool.
 * @fn:  the job; see the header comment for its context and return value.
 * @arg: passed to @fn.
 * @ctx: bounds the wait (chan_ctx_background(): no bound).
 *
 * Checks the arguments, then @ctx (already done: its error, even if there is
 * room), then the pool. Blocks while the queue is full; a close, a cancel or
 * @ctx's end while it waits wakes it.
 * Return: 0 (@fn will run exactly once), or
 *   -EINVAL     @p, @fn or @ctx is NULL;
 *   -ECANCELED, -ETIMEDOUT  @ctx's error (before or during the wait);
 *   -EPIPE      the pool is closed (chan_pool_close(); also when the group
 *               was canceled as well);
 *   -ECANCELED  the group is canceled (and the pool was not closed);
 *   -ENOMEM     an unbounded queue could not grow, or the queue was full
 *               and @ctx's done channel, made by the first wait on @ctx
 *               (chan_ctx_done()), could not be allocated.
 * On any error @fn will never run for this call and nothing was queued.
 */
CHAN_API int chan_pool_submit(chan_pool_t *p, chan_task_fn fn, void *arg, chan_ctx_t *ctx);

/**
 * chan_pool_try_submit() - chan_pool_submit() that never waits.
 * With queue_cap 0 it succeeds only if a worker is idle, waiting for a job.
 * Return: 0 (@fn will run exactly once), or
 *   -EINVAL     @p or @fn is NULL;
 *   -EPIPE      closed;  -ECANCELED  the group is canceled (as submit);
 *   -EAGAIN     the queue is full;
 *   -ENOMEM     an unbounded queue could not grow.
 * On any error @fn will never run for this call.
 */
CHAN_API int chan_pool_try_submit(chan_pool_t *p, chan_task_fn fn, void *arg);

/**
 * chan_pool_close() - accept no more jobs; the workers run what is queued and
 * exit (chan_group_wait() can then return).
 *
 * Submits blocked on a full queue wake with -EPIPE (their jobs never run).
 * Never blocks; never waits for the jobs.
 * Return: 0, or -EPIPE if the pool was already closed by chan_pool_close()
 * (a cancel alone does not count: closing a canceled pool returns 0), or
 * -EINVAL for a NULL @p.
 */
CHAN_API int chan_pool_close(chan_pool_t *p);

/**
 * chan_pool_destroy() - free the pool. NULL is ignored.
 *
 * Only after chan_group_wait() (or chan_group_destroy()) on its group has
 * returned, when every worker has exited and the queue is empty; a pool
 * whose workers still run is a programming error: chan prints where and
 * aborts. Once per pool; not from a job.
 */
CHAN_API void chan_pool_destroy(chan_pool_t *p);

#ifdef __cplusplus
}
#endif

#endif /* CHAN_POOL_H */
